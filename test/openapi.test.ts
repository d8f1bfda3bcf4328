import SwaggerParser from '@apidevtools/swagger-parser';
import { Express } from 'express';
import { z } from 'zod';
import { createApp } from '../src/http/app';
import { buildOpenApiDocument, operations, responsesOf, toOpenApiPath } from '../src/http/openapi';
import { createSaleSchema } from '../src/modules/sales/validators';
import { call, Stack, startStack, testConfig } from './helpers';

/**
 * Every route the app registers is in the OpenAPI document, and the document names no
 * route the app lacks: the routes are read from the live Express app, so adding one
 * without describing it in src/http/openapi.ts fails here.
 */

type Route = { method: string; path: string };

/** Routes outside `/api` that are pages, not API: listed here so a new one is a decision. */
const PAGE_ROUTES = ['GET /admin'];

const join = (prefix: string, path: string) => (prefix + (path === '/' ? '' : path)).replace(/\/{2,}/g, '/') || '/';

/**
 * Walks the router stack of Express 5 (the `router` package): a layer with `route` is
 * an endpoint (`route.path`, `route.methods`); a layer whose handle has a `stack` is a
 * mounted router, its mount path in `rawPath`. Anything it cannot read throws, so a
 * change in Express's internals fails loudly instead of hiding routes.
 */
function registeredRoutes(router: { stack: unknown[] }, prefix = ''): Route[] {
  const out: Route[] = [];
  for (const raw of router.stack) {
    const layer = raw as { route?: { path: unknown; methods: Record<string, boolean> }; handle?: { stack?: unknown[] }; rawPath?: unknown };
    if (layer.route) {
      if (typeof layer.route.path !== 'string') throw new Error(`a route with a non-string path: ${String(layer.route.path)}`);
      for (const [method, on] of Object.entries(layer.route.methods)) {
        if (!on) continue;
        if (method === '_all') throw new Error(`${layer.route.path} answers every method (router.all): document each instead`);
        out.push({ method: method.toUpperCase(), path: join(prefix, layer.route.path) });
      }
    } else if (layer.handle && Array.isArray(layer.handle.stack)) {
      if (typeof layer.rawPath !== 'string') throw new Error(`a router mounted at a non-string path: ${String(layer.rawPath)}`);
      out.push(...registeredRoutes(layer.handle as { stack: unknown[] }, join(prefix, layer.rawPath)));
    }
  }
  return out;
}

const key = (r: Route) => `${r.method} ${r.path}`;

describe('The OpenAPI document', () => {
  let stack: Stack;
  let app: Express;
  let routes: Route[];
  const doc = buildOpenApiDocument() as any;

  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
    // The server's request listener is Socket.io's wrapper (it keeps the app in a
    // closure), so build the same app again from the stack's live dependencies.
    app = createApp(stack.api.deps);
    routes = registeredRoutes(app.router as unknown as { stack: unknown[] });
  });
  afterAll(async () => stack?.stop());

  it('When the routes are read from the live app, then the walk finds the known ones (it is not blind)', () => {
    const found = new Set(routes.map(key));
    for (const known of ['GET /api/sales', 'POST /api/sales/:saleId/purchases', 'POST /api/admin/sales', 'GET /api/health/live', 'GET /admin']) {
      expect(found).toContain(known);
    }
  });

  it('When every registered /api route is looked up, then each is documented, and nothing else is', () => {
    const api = routes.filter((r) => r.path.startsWith('/api/'));
    const registered = new Set(api.map((r) => `${r.method} ${toOpenApiPath(r.path)}`));
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const pending = new Set(operations.filter((op) => op.pending).map((op) => `${op.method.toUpperCase()} ${toOpenApiPath(op.path)}`));

    const undocumented = [...registered].filter((r) => !documented.has(r));
    const notRegistered = [...documented].filter((d) => !registered.has(d) && !pending.has(d));
    const pendingButRegistered = [...pending].filter((p) => registered.has(p));
    expect({ undocumented, notRegistered, pendingButRegistered }).toEqual({ undocumented: [], notRegistered: [], pendingButRegistered: [] });
    expect(api.length).toBe(registered.size); // no route registered twice
  });

  it('When routes outside /api are read, then they are only the known pages', () => {
    expect(routes.filter((r) => !r.path.startsWith('/api/')).map(key)).toEqual(PAGE_ROUTES);
  });

  it('When the document is validated, then it is structurally OpenAPI 3.1', async () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toEqual(expect.objectContaining({ title: expect.any(String), version: expect.any(String) }));
    expect(doc.components.securitySchemes.bearerAuth).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
    await expect(SwaggerParser.validate(structuredClone(doc))).resolves.toBeDefined();
  });

  it('When each operation is read, then path parameters, auth errors, Retry-After and the Idempotency-Key header are all there', () => {
    const problems: string[] = [];
    for (const op of operations) {
      const path = toOpenApiPath(op.path);
      const o = doc.paths[path][op.method];
      const name = `${op.method.toUpperCase()} ${path}`;
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = (o.parameters ?? []).filter((p: any) => p.in === 'path').map((p: any) => p.name).sort();
      if (JSON.stringify(inPath) !== JSON.stringify(declared)) problems.push(`${name}: path parameters ${declared} for ${inPath}`);
      if (op.auth !== 'none' && !o.responses['401']) problems.push(`${name}: no 401`);
      if (op.auth === 'admin' && !o.responses['403']) problems.push(`${name}: no 403`);
      if (op.auth === 'none' && JSON.stringify(o.security) !== '[]') problems.push(`${name}: public but not marked so`);
      for (const status of ['429', '503']) {
        const r = o.responses[status];
        if (r?.content?.['application/json']?.schema?.$ref === '#/components/schemas/Error' && !r.headers?.['Retry-After']) {
          problems.push(`${name}: ${status} without Retry-After`);
        }
      }
      for (const [status, r] of Object.entries(responsesOf(op))) {
        if (!r.description) problems.push(`${name}: ${status} has no description`);
      }
    }
    expect(problems).toEqual([]);

    const attempt = doc.paths['/api/sales/{saleId}/purchases'].post;
    expect(attempt.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }));
    expect(attempt.responses['429'].headers['Retry-After']).toBeDefined();
    expect(attempt.responses['503'].headers['Retry-After']).toBeDefined();
    expect(Object.keys(attempt.responses)).toEqual(expect.arrayContaining(['200', '202', '400', '401', '404', '409', '413', '415', '429', '503']));
  });

  it('When a request body is documented, then it is the validator itself, converted (not a copy)', () => {
    const documented = doc.paths['/api/admin/sales'].post.requestBody;
    const { $schema: _ignored, ...fromValidator } = z.toJSONSchema(createSaleSchema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' });
    expect(documented.required).toBe(true);
    expect(documented.content['application/json'].schema).toEqual(fromValidator);
    // An optional body (the attempt's quantity may be left out) is documented as optional.
    expect(doc.paths['/api/sales/{saleId}/purchases'].post.requestBody.required).toBe(false);
  });

  it('When /api/openapi.json and /api/docs are fetched, then they serve the document and a page that renders it', async () => {
    const json = await call(stack.api.url, 'GET', '/api/openapi.json');
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toMatch(/^application\/json/);
    expect(json.body).toEqual(doc);

    const page = await call(stack.api.url, 'GET', '/api/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.body).toContain('<script type="module" src="/docs.js"></script>');
    // helmet's CSP allows only this origin's scripts: the page must need nothing else.
    expect(page.body).not.toMatch(/<script[^>]+src="(https?:)?\/\//);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");

    const script = await call(stack.api.url, 'GET', '/docs.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    expect(script.body).toContain("fetch('/api/openapi.json')");
  });
});
