import { Router } from 'express';
import { parse, parseId } from '../../http/validate';
import { PurchaseQueue } from '../purchases/queue';
import { auditSale } from './audit';
import { createSale, getSaleView, listSaleViews, saleStats, SalesDeps } from './service';
import { createSaleSchema, listSalesQuerySchema } from './validators';

export function publicSalesRouter(deps: SalesDeps): Router {
  const router = Router();
  router.get('/sales', async (req, res) => {
    const q = parse(listSalesQuerySchema, req.query, 'query');
    res.json({ items: await listSaleViews(deps, q), limit: q.limit, offset: q.offset });
  });
  router.get('/sales/:saleId', async (req, res) => {
    res.json(await getSaleView(deps, parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale')));
  });
  return router;
}

/** Admin sale routes; mounted behind requireAdmin and the JSON body parser. */
export function adminSalesRouter(deps: SalesDeps & { queue: PurchaseQueue }): Router {
  const router = Router();
  router.post('/sales', async (req, res) => {
    const input = parse(createSaleSchema, req.body);
    res.status(201).json(await createSale(deps, input));
  });
  router.get('/sales/:saleId/audit', async (req, res) => {
    res.json(await auditSale(deps, parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale')));
  });
  router.get('/sales/:saleId/stats', async (req, res) => {
    res.json(await saleStats(deps, parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale')));
  });
  return router;
}
