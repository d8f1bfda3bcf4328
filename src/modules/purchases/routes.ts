import { RequestHandler, Router } from 'express';
import { parse, parseId, paginationSchema } from '../../http/validate';
import { Errors } from '../../lib/errors';
import { principalOf } from '../auth/middleware';
import { attemptPurchase, AdmissionDeps } from './admission/admission';
import { payBodySchema, payPurchase, simulatedProvider } from './holds/payment';
import { NotifyOwner } from '../../realtime/emitter';
import { listUserPurchases, readPurchase } from './read-model';
import { attemptBodySchema, cancelBodySchema, idempotencyKeySchema } from './validators';
import { cancelPurchase } from './holds/cancel';

export type PurchaseRouteDeps = AdmissionDeps & { notify: NotifyOwner; config: { paymentTimeoutMs: number } };

/**
 * Shopper purchase routes. On an attempt: auth, then rate limits, then body parsing, so a
 * bad token is refused before the body is even read. (Attempts on a sale this process
 * knows is sold out are answered before Express: http/sold-out-lane.ts.)
 */
export function purchasesRouter(deps: PurchaseRouteDeps, guard: { user: RequestHandler; limiters: RequestHandler[]; body: RequestHandler }): Router {
  const router = Router();

  router.post('/sales/:saleId/purchases', guard.user, ...guard.limiters, guard.body, async (req, res) => {
    const { userId } = principalOf(req);
    const saleId = parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale');
    const body = parse(attemptBodySchema, req.body);
    const rawKey = req.header('idempotency-key');
    const idempotencyKey = rawKey === undefined ? null : parse(idempotencyKeySchema, rawKey, 'Idempotency-Key header');
    const pass = req.header('sale-pass') ?? null;
    const result = await attemptPurchase(deps, { saleId, userId, quantity: body?.quantity ?? 1, idempotencyKey, pass });
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

  router.post('/purchases/:purchaseId/cancel', guard.user, guard.body, async (req, res) => {
    const { userId } = principalOf(req);
    const purchaseId = parseId(req.params.purchaseId, 'PURCHASE_NOT_FOUND', 'Purchase');
    parse(cancelBodySchema, req.body);
    res.json(await cancelPurchase(deps, { purchaseId, userId }));
  });

  router.get('/me/purchases', guard.user, async (req, res) => {
    const { userId } = principalOf(req);
    const page = parse(paginationSchema, req.query, 'query');
    res.json({ items: await listUserPurchases(deps, userId, page), ...page });
  });
  return router;
}
