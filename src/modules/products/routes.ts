import { Router } from 'express';
import { parse, parseId } from '../../http/validate';
import { Db } from '../../lib/db';
import { createProduct, editProduct, getProduct, listProductPage } from './service';
import { createProductSchema, listProductsQuerySchema, updateProductSchema } from './validators';

const productId = (raw: unknown) => parseId(raw, 'PRODUCT_NOT_FOUND', 'Product');

/** Admin product routes; mounted behind requireAdmin and the JSON body parser. */
export function adminProductsRouter(deps: { db: Db }): Router {
  const router = Router();
  router.post('/products', async (req, res) => {
    const input = parse(createProductSchema, req.body);
    res.status(201).json(await createProduct(deps.db, input));
  });
  router.get('/products', async (req, res) => {
    const page = parse(listProductsQuerySchema, req.query, 'query');
    res.json({ items: await listProductPage(deps.db, page), ...page });
  });
  router.get('/products/:productId', async (req, res) => {
    res.json(await getProduct(deps.db, productId(req.params.productId)));
  });
  router.patch('/products/:productId', async (req, res) => {
    const id = productId(req.params.productId);
    const input = parse(updateProductSchema, req.body);
    res.json(await editProduct(deps.db, id, input));
  });
  return router;
}
