import path from 'node:path';
import { Router } from 'express';
import { buildOpenApiDocument } from './openapi';

const DOCS_PAGE = path.join(__dirname, '..', '..', 'public', 'docs.html');

/** `GET /openapi.json` (the document) and `GET /docs` (a page that renders it); public, mounted under `/api`. */
export function openApiRouter(): Router {
  const router = Router();
  // Built once per app: the document is a pure function of the code.
  const body = JSON.stringify(buildOpenApiDocument());
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
  router.get('/docs', (_req, res) => {
    res.sendFile(DOCS_PAGE);
  });
  return router;
}
