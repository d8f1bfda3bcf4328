import { z } from 'zod';
import { err, Operation } from '../../http/openapi-spec';
import { pageOf } from '../../http/response-schemas';
import { uuidSchema } from '../../http/validate';
import { WEBHOOK_EVENT_TYPES } from './events';
import { EndpointView } from './repository';
import { createEndpointSchema, listEndpointsQuerySchema } from './validators';

const endpointSchema = z.strictObject({
  id: z.uuid(),
  url: z.string(),
  eventTypes: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
  description: z.string().optional(),
  createdAt: z.iso.datetime(),
});
const createdEndpointSchema = endpointSchema.extend({ secret: z.string().describe('The signing secret: shown only in this answer') });

/** Compile-time: the schema and the view agree. */
export type EndpointSchemaMatches = [z.infer<typeof endpointSchema>] extends [EndpointView] ? ([EndpointView] extends [z.infer<typeof endpointSchema>] ? true : never) : never;

const webhookIdParam = { webhookId: { description: 'Endpoint id (UUID); a malformed id is 404 WEBHOOK_NOT_FOUND', schema: uuidSchema } };

/** Admin: webhook endpoints (README "Webhooks"). */
export const webhooksOperations: Operation[] = [
  {
    method: 'post',
    path: '/api/admin/webhooks',
    operationId: 'createWebhook',
    summary: 'Register a webhook endpoint',
    description: 'Events are POSTed as JSON `{id, type, createdAt, data}`, signed in `Flashsale-Signature` (see README, Webhooks). The secret is answered once.',
    tags: ['admin: webhooks'],
    auth: 'admin',
    body: createEndpointSchema,
    responses: { 201: { description: 'Registered; the answer carries the secret', schema: createdEndpointSchema } },
  },
  {
    method: 'get',
    path: '/api/admin/webhooks',
    operationId: 'listWebhooks',
    summary: 'List webhook endpoints (never their secrets), newest first',
    tags: ['admin: webhooks'],
    auth: 'admin',
    query: listEndpointsQuerySchema,
    responses: { 200: { description: 'A page of endpoints', schema: pageOf(endpointSchema) } },
  },
  {
    method: 'delete',
    path: '/api/admin/webhooks/:webhookId',
    operationId: 'deleteWebhook',
    summary: 'Remove an endpoint: nothing more is sent to it (pending deliveries are dropped)',
    tags: ['admin: webhooks'],
    auth: 'admin',
    params: webhookIdParam,
    responses: { 200: { description: 'The endpoint removed', schema: endpointSchema }, 404: err('No such endpoint', 'WEBHOOK_NOT_FOUND') },
  },
];
