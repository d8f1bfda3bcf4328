import { Router } from 'express';
import { z } from 'zod';
import { parse, parseId } from '../../http/validate';
import { reconcileSale, ReconcileDeps } from './reconcile';

/** A reconcile takes no parameters: no body, or an empty JSON object. */
export const reconcileBodySchema = z.strictObject({}).optional();

/** `POST /sales/:saleId/reconcile`; mounted in the `/admin` chain (requireAdmin, JSON body parser). */
export function adminReconcileRouter(deps: ReconcileDeps): Router {
  const router = Router();
  router.post('/sales/:saleId/reconcile', async (req, res) => {
    const saleId = parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale');
    parse(reconcileBodySchema, req.body);
    res.json(await reconcileSale(deps, saleId));
  });
  return router;
}
