import { Router } from 'express';
import { parse, parseId } from '../../http/validate';
import { auditSale } from './audit';
import { cancelSale, editSale, LifecycleDeps } from './lifecycle';
import { createSale, getSaleView, listSaleViews, QueueCounter, saleStats, SalesDeps } from './service';
import { adminListSalesQuerySchema, auditQuerySchema, cancelSaleSchema, createSaleSchema, listSalesQuerySchema, updateSaleSchema } from './validators';

const saleId = (raw: unknown) => parseId(raw, 'SALE_NOT_FOUND', 'Sale');

export function publicSalesRouter(deps: SalesDeps): Router {
  const router = Router();
  router.get('/sales', async (req, res) => {
    const q = parse(listSalesQuerySchema, req.query, 'query');
    // Unlisted sales (load tests, private drops) are reachable by id only.
    res.json({ items: await listSaleViews(deps, q, 'public'), limit: q.limit, offset: q.offset });
  });
  router.get('/sales/:saleId', async (req, res) => {
    res.json(await getSaleView(deps, saleId(req.params.saleId)));
  });
  return router;
}

/** Admin sale routes; mounted behind requireAdmin and the JSON body parser. */
/**
 * Admin sale routes. `soldOut` is this node's sold-out cache: an edit or a cancel drops the
 * sale from it, so this node answers the new truth at once (other nodes within 500 ms).
 */
export function adminSalesRouter(deps: LifecycleDeps & { queues: QueueCounter; soldOut?: { forget: (saleId: string) => void } }): Router {
  const router = Router();
  router.post('/sales', async (req, res) => {
    const input = parse(createSaleSchema, req.body);
    res.status(201).json(await createSale(deps, input));
  });
  router.get('/sales', async (req, res) => {
    const q = parse(adminListSalesQuerySchema, req.query, 'query');
    res.json({ items: await listSaleViews(deps, q, 'admin'), limit: q.limit, offset: q.offset });
  });
  router.get('/sales/:saleId', async (req, res) => {
    res.json(await getSaleView(deps, saleId(req.params.saleId)));
  });
  router.patch('/sales/:saleId', async (req, res) => {
    const id = saleId(req.params.saleId);
    const input = parse(updateSaleSchema, req.body);
    const sale = await editSale(deps, id, input);
    deps.soldOut?.forget(id);
    res.json(sale);
  });
  router.post('/sales/:saleId/cancel', async (req, res) => {
    const id = saleId(req.params.saleId);
    parse(cancelSaleSchema, req.body);
    const report = await cancelSale(deps, id);
    deps.soldOut?.forget(id);
    res.json(report);
  });
  router.get('/sales/:saleId/audit', async (req, res) => {
    const id = saleId(req.params.saleId);
    const q = parse(auditQuerySchema, req.query, 'query');
    res.json(await auditSale(deps, id, q));
  });
  router.get('/sales/:saleId/stats', async (req, res) => {
    res.json(await saleStats(deps, saleId(req.params.saleId)));
  });
  return router;
}
