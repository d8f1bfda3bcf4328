import { Router } from 'express';
import { parse } from '../../http/validate';
import { Db } from '../../lib/db';
import { createProduct } from './service';
import { createProductSchema } from './validators';

/** Admin product routes; mounted behind requireAdmin and the JSON body parser. */
export function adminProductsRouter(deps: { db: Db }): Router {
  const router = Router();
  router.post('/products', async (req, res) => {
    const input = parse(createProductSchema, req.body);
    res.status(201).json(await createProduct(deps.db, input));
  });
  return router;
}
