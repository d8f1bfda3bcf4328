import { Redis } from 'ioredis';
import { Db } from '../../lib/db';
import { Keys } from '../../redis/keys';

export type PurchaseStatus = 'queued' | 'confirmed' | 'rejected' | 'paid' | 'expired' | 'cancelled';

/** The purchase resource of the HTTP contract. */
export type PurchaseView = {
  purchaseId: string;
  saleId: string;
  quantity: number;
  status: PurchaseStatus;
  reason?: string;
  orderId?: string;
  createdAt: string;
};

type Stored = PurchaseView & { userId: string };

/** Pollers read purchases from Redis for this long; PostgreSQL answers afterwards. */
const READ_MODEL_TTL_S = 24 * 3600;
const USER_INDEX_MAX = 200;

/**
 * Records a just-admitted purchase for pollers. NX: if a worker already wrote the
 * final status (it can race ahead of this write), the queued view never overwrites it.
 */
export function writeQueued(redis: Redis, keys: Keys, p: Stored): Promise<unknown> {
  const userKey = keys.userPurchases(p.userId);
  return Promise.all([
    redis.set(keys.purchase(p.purchaseId), JSON.stringify(p), 'EX', READ_MODEL_TTL_S, 'NX'),
    redis.zadd(userKey, Date.parse(p.createdAt), p.purchaseId),
    redis.zremrangebyrank(userKey, 0, -USER_INDEX_MAX - 1),
    redis.expire(userKey, READ_MODEL_TTL_S),
  ]);
}

export async function writeFinal(redis: Redis, keys: Keys, items: Stored[]): Promise<void> {
  if (items.length === 0) return;
  const tx = redis.pipeline();
  for (const p of items) tx.set(keys.purchase(p.purchaseId), JSON.stringify(p), 'EX', READ_MODEL_TTL_S);
  await tx.exec();
}

const strip = ({ userId: _userId, ...view }: Stored): PurchaseView => view;

type PgRow = {
  id: string;
  sale_id: string;
  user_id: string;
  quantity: number;
  status: PurchaseStatus;
  reason: string | null;
  admitted_at: Date;
  order_id: string | null;
};

const fromPg = (r: PgRow): Stored => ({
  purchaseId: r.id,
  saleId: r.sale_id,
  userId: r.user_id,
  quantity: r.quantity,
  status: r.status,
  ...(r.reason ? { reason: r.reason } : {}),
  ...(r.order_id ? { orderId: r.order_id } : {}),
  createdAt: r.admitted_at.toISOString(),
});

const pgPurchases = (db: Db) =>
  db('purchases as p')
    .leftJoin('orders as o', 'o.purchase_id', 'p.id')
    .select<PgRow[]>('p.id', 'p.sale_id', 'p.user_id', 'p.quantity', 'p.status', 'p.reason', 'p.admitted_at', 'o.id as order_id');

/** One purchase for its owner: Redis while hot, PostgreSQL after. Others get undefined (-> 404). */
export async function readPurchase(redis: Redis, db: Db, keys: Keys, purchaseId: string, userId: string): Promise<PurchaseView | undefined> {
  const cached = await redis.get(keys.purchase(purchaseId));
  let found: Stored | undefined = cached ? (JSON.parse(cached) as Stored) : undefined;
  if (!found) {
    const row = await pgPurchases(db).where('p.id', purchaseId).first();
    found = row ? fromPg(row as PgRow) : undefined;
  }
  return found && found.userId === userId ? strip(found) : undefined;
}

/**
 * A shopper's purchases, newest first: PostgreSQL holds the decided ones; purchases
 * still queued exist only in Redis and are merged into the first page.
 */
export async function listUserPurchases(
  redis: Redis,
  db: Db,
  keys: Keys,
  userId: string,
  page: { limit: number; offset: number },
): Promise<PurchaseView[]> {
  const rows = (await pgPurchases(db).where('p.user_id', userId).orderBy('p.admitted_at', 'desc').limit(page.limit).offset(page.offset)) as PgRow[];
  const decided = rows.map(fromPg);
  if (page.offset > 0) return decided.map(strip);
  const recentIds = await redis.zrevrange(keys.userPurchases(userId), 0, page.limit - 1);
  const known = new Set(decided.map((p) => p.purchaseId));
  const missing = recentIds.filter((id) => !known.has(id));
  const cached = missing.length ? await redis.mget(missing.map((id) => keys.purchase(id))) : [];
  const queued = cached
    .filter((v): v is string => v !== null)
    .map((v) => JSON.parse(v) as Stored)
    .filter((p) => p.userId === userId && p.status === 'queued');
  return [...queued, ...decided]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, page.limit)
    .map(strip);
}
