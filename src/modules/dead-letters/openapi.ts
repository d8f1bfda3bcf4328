import { z } from 'zod';
import { err, Operation, retryable } from '../../http/openapi-spec';
import { purchaseSchema } from '../../http/response-schemas';
import { uuidSchema } from '../../http/validate';
import { listDeadLettersQuerySchema, replayBodySchema } from './validators';

const deadLetterSchema = z.strictObject({
  id: z.uuid().describe('The delivery id (webhook) or the purchase id (purchase)'),
  kind: z.enum(['webhook', 'purchase']),
  failedAt: z.iso.datetime(),
  attempts: z.number().int().min(0),
  lastError: z.string().nullable(),
  replays: z.number().int().min(0).describe('Earlier replays of it'),
  webhook: z.strictObject({ eventId: z.uuid(), eventType: z.string(), endpointId: z.uuid(), url: z.string() }).optional(),
  purchase: z.strictObject({ saleId: z.uuid(), userId: z.string(), quantity: z.number().int().min(1), replayPurchaseId: z.uuid().optional() }).optional(),
});

const replaySchema = z.discriminatedUnion('kind', [
  z.strictObject({ id: z.uuid(), kind: z.literal('webhook'), replayed: z.boolean(), status: z.string().describe('The delivery now: pending until relayed'), replays: z.number().int().min(0) }),
  z.strictObject({
    id: z.uuid(),
    kind: z.literal('purchase'),
    replayed: z.boolean(),
    replays: z.number().int().min(0),
    purchase: purchaseSchema.describe('The new attempt made by the replay (the same one on every replay)'),
  }),
]);

const deadLetterIdParam = { deadLetterId: { description: 'Dead letter id (UUID); a malformed id is 404 DEAD_LETTER_NOT_FOUND', schema: uuidSchema } };

/** Admin: dead letters (README "Dead letters"). */
export const deadLettersOperations: Operation[] = [
  {
    method: 'get',
    path: '/api/admin/dead-letters',
    operationId: 'listDeadLetters',
    summary: 'Webhook deliveries that ran out of attempts and purchases that ended PROCESSING_FAILED, newest first',
    tags: ['admin: dead letters'],
    auth: 'admin',
    query: listDeadLettersQuerySchema,
    responses: {
      200: {
        description: 'A page of open dead letters (a replayed purchase, a redelivered webhook leave the list)',
        schema: z.strictObject({ items: z.array(deadLetterSchema), total: z.number().int().min(0), limit: z.number().int().min(1).max(100), offset: z.number().int().min(0) }),
      },
    },
  },
  {
    method: 'post',
    path: '/api/admin/dead-letters/:deadLetterId/replay',
    operationId: 'replayDeadLetter',
    summary: 'Replay a dead letter',
    description:
      'A webhook delivery is sent again (same event id, attempts from zero). A purchase is attempted again for the same shopper, sale and ' +
      'quantity through the gate and the worker, under the idempotency key `replay-<id>`: replaying again returns that same purchase, never a second order.',
    tags: ['admin: dead letters'],
    auth: 'admin',
    params: deadLetterIdParam,
    body: replayBodySchema,
    responses: {
      202: { description: 'Replayed now', schema: replaySchema },
      200: { description: 'Replayed before (or no longer dead): how it stands', schema: replaySchema },
      404: err('No such dead letter', 'DEAD_LETTER_NOT_FOUND'),
      409: err('A purchase replay refused by the gate: nothing was taken', 'SOLD_OUT', 'LIMIT_EXCEEDED', 'SALE_NOT_STARTED', 'SALE_ENDED', 'SALE_CANCELLED'),
      503: retryable('The replayed purchase could not be queued, or its sale is being restored', 'OVERLOADED', 'QUEUE_UNAVAILABLE', 'SALE_UNAVAILABLE', 'PURCHASE_UNAVAILABLE'),
    },
  },
];
