import { err, Operation, purchaseIdParam, purchaseNotFound, retryable, saleIdParam, saleNotFound } from '../../http/openapi-spec';
import { attemptReplySchema, purchaseListSchema, purchaseSchema } from '../../http/response-schemas';
import { paginationSchema } from '../../http/validate';
import { payBodySchema } from './holds/payment';
import { attemptBodySchema, cancelBodySchema } from './validators';

/** Purchases: attempt, read, pay, list mine: every route of this module, described once beside its router. */
export const purchasesOperations: Operation[] = [
  {
    method: 'post',
    path: '/api/sales/:saleId/purchases',
    operationId: 'attemptPurchase',
    summary: 'Attempt a purchase',
    description:
      'Admits the attempt (Redis gate) and queues it; poll `statusUrl` or listen on Socket.io for the outcome. ' +
      'The same `Idempotency-Key` with the same body returns the same purchase; with a different quantity, 409 IDEMPOTENCY_CONFLICT. ' +
      'Refused attempts are not remembered under their key. ' +
      'On a sale with a waiting room the request needs header `Sale-Pass`: the pass your turn in the line gave (README, Waiting room).',
    tags: ['purchases'],
    auth: 'shopper',
    params: saleIdParam,
    body: attemptBodySchema,
    idempotencyKey: true,
    responses: {
      202: {
        description: 'Admitted and queued',
        schema: attemptReplySchema,
        headers: { Location: { description: 'The purchase (same as statusUrl)', schema: { type: 'string' } } },
      },
      200: { description: 'The purchase this Idempotency-Key already made, as it stands now (nothing taken again)', schema: attemptReplySchema },
      404: saleNotFound,
      403: err('The sale has a waiting room and the Sale-Pass is missing, not ours, another shopper\'s, or expired', 'PASS_REQUIRED', 'PASS_INVALID', 'PASS_NOT_YOURS', 'PASS_EXPIRED'),
      409: err('Refused: nothing was taken', 'SOLD_OUT', 'LIMIT_EXCEEDED', 'SALE_NOT_STARTED', 'SALE_ENDED', 'SALE_CANCELLED', 'IDEMPOTENCY_CONFLICT', 'PASS_USED'),
      429: retryable('Too many attempts from this shopper or IP', 'RATE_LIMITED'),
      503: retryable(
        'Not admitted now (queue backlog over its bound, sale being restored, queue unreachable): the attempt will not go through. ' +
          'PURCHASE_UNAVAILABLE: a keyed retry of a purchase whose outcome is being recorded this instant; retry to read it',
        'OVERLOADED',
        'SALE_UNAVAILABLE',
        'QUEUE_UNAVAILABLE',
        'PURCHASE_UNAVAILABLE',
      ),
    },
  },
  {
    method: 'get',
    path: '/api/purchases/:purchaseId',
    operationId: 'getPurchase',
    summary: "A purchase's status (owner only)",
    description: 'Served from Redis while hot. Anyone but the owner gets 404.',
    tags: ['purchases'],
    auth: 'shopper',
    params: purchaseIdParam,
    responses: { 200: { description: 'The purchase', schema: purchaseSchema }, 404: purchaseNotFound },
  },
  {
    method: 'post',
    path: '/api/purchases/:purchaseId/pay',
    operationId: 'payPurchase',
    summary: 'Pay a confirmed purchase (owner only)',
    description:
      'The simulated provider approves `tok_approve`, declines `tok_decline` (still payable until the hold ends) and times out on `tok_timeout`. ' +
      'Paying a paid purchase again returns it unchanged.',
    tags: ['purchases'],
    auth: 'shopper',
    params: purchaseIdParam,
    body: payBodySchema,
    responses: {
      200: { description: 'Paid (or already paid)', schema: purchaseSchema },
      402: err('The provider declined; still payable until the hold ends', 'PAYMENT_DECLINED'),
      404: purchaseNotFound,
      409: err(
        'Not payable: the hold ended (PURCHASE_EXPIRED), still queued (PURCHASE_NOT_CONFIRMED) or rejected / cancelled (PURCHASE_NOT_PAYABLE)',
        'PURCHASE_EXPIRED',
        'PURCHASE_NOT_CONFIRMED',
        'PURCHASE_NOT_PAYABLE',
      ),
      504: retryable('The provider did not answer in time; still payable until the hold ends', 'PAYMENT_TIMEOUT'),
    },
  },
  {
    method: 'post',
    path: '/api/purchases/:purchaseId/cancel',
    operationId: 'cancelPurchase',
    summary: 'Give up a confirmed, unpaid purchase (owner only)',
    description: 'Ends the hold now: the purchase becomes `cancelled` and its units go back on sale at once. Cancelling a cancelled purchase returns it unchanged.',
    tags: ['purchases'],
    auth: 'shopper',
    params: purchaseIdParam,
    body: cancelBodySchema,
    responses: {
      200: { description: 'Cancelled (or already cancelled)', schema: purchaseSchema },
      404: purchaseNotFound,
      409: err(
        'Not cancellable: the hold ended (PURCHASE_EXPIRED), still queued (PURCHASE_NOT_CONFIRMED) or paid / rejected (PURCHASE_NOT_CANCELLABLE)',
        'PURCHASE_EXPIRED',
        'PURCHASE_NOT_CONFIRMED',
        'PURCHASE_NOT_CANCELLABLE',
      ),
    },
  },
  {
    method: 'get',
    path: '/api/me/purchases',
    operationId: 'listMyPurchases',
    summary: "The caller's purchases, newest first",
    tags: ['purchases'],
    auth: 'shopper',
    query: paginationSchema,
    responses: { 200: { description: 'A page of purchases', schema: purchaseListSchema } },
  },
];
