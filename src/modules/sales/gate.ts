import { Redis } from 'ioredis';
import { Keys } from '../../redis/keys';
import { SaleRecord } from './sale';

/** How long a sale's Redis state outlives its end (idempotency keys must last >= 24 h after it). */
export const SALE_KEY_RETENTION_MS = 48 * 3600 * 1000;

/**
 * Loads a sale's metadata and counters into the Redis gate. `remaining` is only set
 * when absent, so re-loading metadata never resets live stock.
 */
export async function loadSaleIntoGate(redis: Redis, keys: Keys, sale: SaleRecord, remaining = sale.stock): Promise<void> {
  const k = keys.sale(sale.id);
  const expireAt = sale.endsAt.getTime() + SALE_KEY_RETENTION_MS;
  const tx = redis.multi();
  tx.hset(k.meta, {
    startsAt: sale.startsAt.getTime(),
    endsAt: sale.endsAt.getTime(),
    cancelled: sale.cancelledAt ? 1 : 0,
    perUserLimit: sale.perUserLimit,
    stock: sale.stock,
  });
  tx.set(k.remaining, remaining, 'NX');
  for (const key of Object.values(k)) tx.pexpireat(key, expireAt);
  await tx.exec();
}

/** The gate's remaining units for each sale (0 when the gate has no record). */
export async function gateRemaining(redis: Redis, keys: Keys, saleIds: string[]): Promise<Map<string, number>> {
  if (saleIds.length === 0) return new Map();
  const values = await Promise.all(saleIds.map((id) => redis.get(keys.sale(id).remaining)));
  return new Map(saleIds.map((id, i) => [id, Math.max(0, Number(values[i] ?? 0))]));
}

export async function gateStats(redis: Redis, keys: Keys, saleId: string): Promise<Record<string, string>> {
  return redis.hgetall(keys.sale(saleId).stats);
}
