import { RedisClient } from '../lib/redis';
import { Keys, SALE_KEY_RETENTION_MS } from './keys';
import { RestockCode } from './codes';
import { isPending, parseGateRecord } from './record';
import { scripts } from './scripts';


/** What the gate keeps of a sale (the sales module's record fits it). */
export type GateSale = { id: string; startsAt: Date; endsAt: Date; cancelledAt: Date | null; perUserLimit: number; stock: number; /** The waiting room's flag admit-8 reads (meta `room`), when known. */ waitingRoom?: boolean };

/**
 * Loads a sale's metadata and counters into the Redis gate. `remaining` is only set
 * when absent, so re-loading metadata never resets live stock.
 */
export async function loadSaleIntoGate(redis: RedisClient, keys: Keys, sale: GateSale, remaining = sale.stock): Promise<void> {
  const k = keys.sale(sale.id);
  const expireAt = sale.endsAt.getTime() + SALE_KEY_RETENTION_MS;
  const tx = redis.multi();
  tx.hset(k.meta, {
    startsAt: sale.startsAt.getTime(),
    endsAt: sale.endsAt.getTime(),
    cancelled: sale.cancelledAt ? 1 : 0,
    perUserLimit: sale.perUserLimit,
    stock: sale.stock,
    ...(sale.waitingRoom === undefined ? {} : { room: sale.waitingRoom ? 1 : 0 }),
  });
  tx.set(k.remaining, remaining, 'NX');
  // Keys that exist now; hashes admit-8 creates later take the same expiry there (once, `kept`).
  tx.hdel(k.meta, 'kept');
  for (const key of Object.values(k)) tx.pexpireat(key, expireAt);
  await tx.exec();
}

/** The gate's remaining units for each sale (0 when the gate has no record). */
export async function gateRemaining(redis: RedisClient, keys: Keys, saleIds: string[]): Promise<Map<string, number>> {
  if (saleIds.length === 0) return new Map();
  const values = await Promise.all(saleIds.map((id) => redis.get(keys.sale(id).remaining)));
  return new Map(saleIds.map((id, i) => [id, Math.max(0, Number(values[i] ?? 0))]));
}

export async function gateStats(redis: RedisClient, keys: Keys, saleId: string): Promise<Record<string, string>> {
  return redis.hgetall(keys.sale(saleId).stats);
}

/** The gate's answer to an edit: applied (with the units left after it), or why nothing changed. */
export type GateEdit =
  | { outcome: 'applied'; remaining: number }
  | { outcome: 'not_loaded' }
  | { outcome: 'below_zero'; remaining: number }
  | { outcome: 'cancelled' };

const EDIT_OUTCOMES: Record<number, GateEdit['outcome']> = {
  [RestockCode.applied]: 'applied',
  [RestockCode.notLoaded]: 'not_loaded',
  [RestockCode.belowZero]: 'below_zero',
  [RestockCode.cancelled]: 'cancelled',
};

/**
 * Applies an edited sale to a loaded gate in one script (restock-2): the window, limit
 * and stock that admit-8 reads, and `remaining` moved by `stockDelta`; both keys then
 * expire with the sale's (possibly new) end. `force` is for undoing an edit PostgreSQL
 * did not commit: no cancellation or floor check.
 */
export async function editSaleInGate(
  redis: RedisClient,
  keys: Keys,
  sale: GateSale,
  stockDelta: number,
  mode: 'checked' | 'force' = 'checked',
): Promise<GateEdit> {
  const k = keys.sale(sale.id);
  const expireAtMs = sale.endsAt.getTime() + SALE_KEY_RETENTION_MS;
  const [code, remaining] = await scripts.restock(redis, k, {
    stockDelta,
    mode,
    expireAtMs,
    meta: { startsAt: sale.startsAt.getTime(), endsAt: sale.endsAt.getTime(), perUserLimit: sale.perUserLimit, stock: sale.stock },
  });
  const outcome = EDIT_OUTCOMES[code];
  if (outcome === 'applied' || outcome === 'below_zero') return { outcome, remaining };
  if (outcome === 'not_loaded' || outcome === 'cancelled') return { outcome };
  throw new Error(`Unexpected restock code ${code}`);
}

/** When a sale's end moves: every key of the sale that exists follows it (end + retention). */
export async function expireSaleKeysWithSale(redis: RedisClient, keys: Keys, sale: GateSale): Promise<void> {
  const expireAtMs = sale.endsAt.getTime() + SALE_KEY_RETENTION_MS;
  const tx = redis.pipeline();
  for (const key of Object.values(keys.sale(sale.id))) tx.pexpireat(key, expireAtMs);
  await tx.exec();
}

/**
 * Stops admissions for a sale at once: admit-8 refuses a cancelled sale before anything
 * else. Returns false when the gate had no record of the sale (the flag alone is then
 * all it has; the caller loads the rest).
 */
export async function stopAdmissions(redis: RedisClient, keys: Keys, saleId: string): Promise<boolean> {
  const k = keys.sale(saleId);
  const replies = await redis.multi().hexists(k.meta, 'startsAt').hset(k.meta, 'cancelled', 1).exec();
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('cancel flag transaction was discarded');
  return replies[0]![1] === 1;
}

/** Ids of the sale's purchases the gate still counts as pending (queued, or claimed by a worker). */
export async function pendingPurchaseIds(redis: RedisClient, keys: Keys, saleId: string): Promise<string[]> {
  const all = await redis.hgetall(keys.sale(saleId).purchases);
  return Object.entries(all)
    .filter(([, rec]) => isPending(parseGateRecord(rec)))
    .map(([id]) => id);
}

/**
 * The gate's remaining units and the units of purchases it still counts as pending
 * (queued, or claimed by a worker), read atomically: what stats compare with PostgreSQL.
 * O(1): pending is admittedUnits (admit +, release −) minus decidedUnits (finalize +;
 * rebuild sets it), two counters the scripts keep, so the admin page polling stats never
 * scans the purchases hash and admission moves one counter less.
 */
export async function gatePending(redis: RedisClient, keys: Keys, saleId: string): Promise<{ remaining: number | null; pendingUnits: number }> {
  const k = keys.sale(saleId);
  const replies = await redis.multi().get(k.remaining).hmget(k.stats, 'admittedUnits', 'decidedUnits').exec();
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('gate read discarded');
  const remaining = replies[0]![1] as string | null;
  const [admitted, decided] = replies[1]![1] as (string | null)[];
  return { remaining: remaining === null ? null : Number(remaining), pendingUnits: Number(admitted ?? 0) - Number(decided ?? 0) };
}

/** The unqueued hash's field that keeps it from emptying (and losing its expiry); never a purchase. */
export const UNQUEUED_KEEPER = '~';

/** Purchases admitted with no queue job known yet (the orphan sweep's worklist). */
export async function unqueuedPurchaseIds(redis: RedisClient, keys: Keys, saleId: string): Promise<string[]> {
  return (await redis.hkeys(keys.sale(saleId).unqueued)).filter((f) => f !== UNQUEUED_KEEPER);
}
