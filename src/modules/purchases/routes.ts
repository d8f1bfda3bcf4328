import { RequestHandler, Router } from 'express';
import { parse, parseId, paginationSchema } from '../../http/validate';
import { Errors } from '../../lib/errors';
import { SOLD_OUT_MESSAGE } from '../../redis/admit-codes';
import { principalOf } from '../auth/middleware';
import { attemptPurchase, AdmissionDeps, knownSoldOut } from './admission';
import { payBodySchema, payPurchase, simulatedProvider } from './payment';
import { NotifyOwner } from '../../realtime/emitter';
import { listUserPurchases, readPurchase } from './read-model';
import { attemptBodySchema, idempotencyKeySchema } from './validators';

const SOLD_OUT_BODY = Buffer.from(
  JSON.stringify({ error: { code: 'SOLD_OUT', message: SOLD_OUT_MESSAGE } }),
);

export type PurchaseRouteDeps = AdmissionDeps & { notify: NotifyOwner; config: { paymentTimeoutMs: number } };

/**
 * Shopper purchase routes. On an attempt: auth, then the sold-out fast path, then rate
 * limits and body parsing, so a bad token is refused before the body is even read, and
 * a stampede on a sold-out sale costs neither a Redis call nor a body parse.
 */
export function purchasesRouter(deps: PurchaseRouteDeps, guard: { user: RequestHandler; limiters: RequestHandler[]; body: RequestHandler }): Router {
  const router = Router();

  // Any quantity is refused when 0 are left, so the body need not be read. Keyed
  // attempts go on: a retry may find its earlier purchase.
  const soldOutFastPath: RequestHandler = (req, res, next) => {
    const saleId = String(req.params.saleId).toLowerCase();
    if (knownSoldOut(deps, saleId, req.header('idempotency-key'))) {
      return void res.status(409).type('application/json').send(SOLD_OUT_BODY);
    }
    next();
  };

  router.post('/sales/:saleId/purchases', guard.user, soldOutFastPath, ...guard.limiters, guard.body, async (req, res) => {
    const { userId } = principalOf(req);
    const saleId = parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale');
    const body = parse(attemptBodySchema, req.body);
    const rawKey = req.header('idempotency-key');
    const idempotencyKey = rawKey === undefined ? null : parse(idempotencyKeySchema, rawKey, 'Idempotency-Key header');
    const result = await attemptPurchase(deps, { saleId, userId, quantity: body?.quantity ?? 1, idempotencyKey });
    const statusUrl = `/api/purchases/${result.purchase.purchaseId}`;
    res
      .status(result.created ? 202 : 200)
      .location(statusUrl)
      .json({ ...result.purchase, statusUrl });
  });

  router.get('/purchases/:purchaseId', guard.user, async (req, res) => {
    const { userId } = principalOf(req);
    const purchaseId = parseId(req.params.purchaseId, 'PURCHASE_NOT_FOUND', 'Purchase');
    const purchase = await readPurchase(deps, purchaseId, userId);
    if (!purchase) throw Errors.notFound('PURCHASE_NOT_FOUND', 'Purchase not found');
    res.json(purchase);
  });

  const payment = { ...deps, provider: simulatedProvider, timeoutMs: deps.config.paymentTimeoutMs };
  router.post('/purchases/:purchaseId/pay', guard.user, guard.body, async (req, res) => {
    const { userId } = principalOf(req);
    const purchaseId = parseId(req.params.purchaseId, 'PURCHASE_NOT_FOUND', 'Purchase');
    const { paymentToken } = parse(payBodySchema, req.body);
    res.json(await payPurchase(payment, { purchaseId, userId, paymentToken }));
  });

  router.get('/me/purchases', guard.user, async (req, res) => {
    const { userId } = principalOf(req);
    const page = parse(paginationSchema, req.query, 'query');
    res.json({ items: await listUserPurchases(deps, userId, page), ...page });
  });
  return router;
}
