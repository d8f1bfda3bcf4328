import { Router } from 'express';
import { parse, parseId } from '../../http/validate';
import { Db } from '../../lib/db';
import { endpointPage, registerEndpoint, removeEndpoint } from './service';
import { createEndpointSchema, listEndpointsQuerySchema } from './validators';

/** `POST/GET /webhooks`, `DELETE /webhooks/:webhookId`; mounted in the `/admin` chain (requireAdmin, JSON body parser). */
export function adminWebhooksRouter(deps: { db: Db }): Router {
  const router = Router();
  router.post('/webhooks', async (req, res) => {
    const input = parse(createEndpointSchema, req.body);
    res.status(201).json(await registerEndpoint(deps.db, input));
  });
  router.get('/webhooks', async (req, res) => {
    const page = parse(listEndpointsQuerySchema, req.query, 'query');
    res.json({ items: await endpointPage(deps.db, page), ...page });
  });
  router.delete('/webhooks/:webhookId', async (req, res) => {
    res.json(await removeEndpoint(deps.db, parseId(req.params.webhookId, 'WEBHOOK_NOT_FOUND', 'Webhook endpoint')));
  });
  return router;
}
