import { RedisClient } from '../src/lib/redis';
import { Db } from '../src/lib/db';
import { Keys } from '../src/gate/keys';
import { findProductBySku } from '../src/modules/products/repository';
import { createProduct } from '../src/modules/products/service';
import { createSale } from '../src/modules/sales/service';

export const DEMO_SKU = 'DEMO-SNEAKER-001';
const DEMO_SALE_NAME = 'Demo drop: Limited sneaker';

/**
 * Ensures a demo product and an active demo sale whose gate is loaded in Redis.
 * Returns the demo sale id. Running it again reuses what is there.
 */
export async function seedDemo(deps: { db: Db; redis: RedisClient; keys: Keys }): Promise<{ saleId: string; created: boolean }> {
  const product =
    (await findProductBySku(deps.db, DEMO_SKU)) ??
    (await createProduct(deps.db, { sku: DEMO_SKU, name: 'Limited sneaker', priceCents: 12_900, currency: 'USD', description: 'Demo product' }));
  const now = new Date();
  const candidates = await deps
    .db('sales')
    .where({ product_id: product.id, name: DEMO_SALE_NAME })
    .whereNull('cancelled_at')
    .where('starts_at', '<=', now)
    .where('ends_at', '>', now)
    .orderBy('created_at', 'desc')
    .select<{ id: string }[]>('id');
  for (const { id } of candidates) {
    if (await deps.redis.exists(deps.keys.sale(id).meta)) return { saleId: id, created: false };
  }
  const sale = await createSale(deps, {
    productId: product.id,
    name: DEMO_SALE_NAME,
    startsAt: new Date(now.getTime() - 60_000),
    endsAt: new Date(now.getTime() + 7 * 24 * 3600 * 1000),
    stock: 1000,
    perUserLimit: 2,
    priceCents: 9_900,
  });
  return { saleId: sale.id, created: true };
}
