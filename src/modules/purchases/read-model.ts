import { RedisClient } from '../../lib/redis';
import { Db } from '../../lib/db';
import { Keys } from '../../gate/keys';
import { isPending, parseGateRecord } from '../../gate/record';
import { scripts } from '../../gate/scripts';
import { PurchaseStatus, PurchaseView, purchaseView } from './view';

type Stored = PurchaseView & { userId: string };

/** Pollers read purchases from Redis for this long; PostgreSQL answers afterwards. */
const READ_MODEL_TTL_S = 24 * 3600;
const USER_INDEX_MAX = 200;

/** Index members are `<purchaseId>/<saleId>`: the sale says where the gate keeps a queued purchase. */
const indexMember = (purchaseId: string, saleId: string) => `${purchaseId}/${saleId}`;
const parseMember = (member: string) => {
  const [purchaseId, saleId] = member.split('/');
  return { purchaseId: purchaseId!, saleId };
};

/**
 * Indexes a just-admitted purchase under its owner, for `GET /api/me/purchases` and for
 * reading it while queued. The purchase itself needs no write here: while queued, the
 * gate's own record (status|quantity|createdAt|userId, written by admit-7.lua) is its record.
 */
export function indexUserPurchase(redis: RedisClient, keys: Keys, userId: string, purchaseId: string, saleId: string, createdAtMs: number): Promise<unknown> {
  return scripts.indexPurchase(redis, keys.userPurchases(userId), { scoreMs: createdAtMs, member: indexMember(purchaseId, saleId), ttlSeconds: READ_MODEL_TTL_S });
}

export async function writeReadModel(redis: RedisClient, keys: Keys, items: Stored[]): Promise<void> {
  // One command per purchase, not a pipeline: each key has its own cluster slot. Auto-pipelining
  // still sends them in one round trip (per node).
  await Promise.all(items.map((p) => redis.set(keys.purchase(p.purchaseId), JSON.stringify(p), 'EX', READ_MODEL_TTL_S)));
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
  hold_expires_at: Date | null;
  paid_at: Date | null;
  hold_ended_at: Date | null;
};

const iso = (d: Date | null) => d?.toISOString() ?? null;

const fromPg = (r: PgRow): Stored => ({
  ...purchaseView({
    purchaseId: r.id,
    saleId: r.sale_id,
    quantity: r.quantity,
    status: r.status,
    reason: r.reason,
    orderId: r.order_id,
    holdExpiresAt: iso(r.hold_expires_at),
    paidAt: iso(r.paid_at),
    holdEndedAt: iso(r.hold_ended_at),
    createdAt: r.admitted_at.toISOString(),
  }),
  userId: r.user_id,
});

const pgPurchases = (db: Db) =>
  db('purchases as p')
    .leftJoin('orders as o', 'o.purchase_id', 'p.id')
    .select<PgRow[]>('p.id', 'p.sale_id', 'p.user_id', 'p.quantity', 'p.status', 'p.reason', 'p.admitted_at', 'p.hold_expires_at', 'p.paid_at', 'p.hold_ended_at', 'o.id as order_id');

export type ReadDeps = { redis: RedisClient; db: Db; keys: Keys };

/** A purchase the gate still holds as queued (or claimed by a worker, which to the shopper is queued). */
async function queuedInGate(deps: ReadDeps, purchaseId: string, saleId: string): Promise<Stored | undefined> {
  const rec = parseGateRecord(await deps.redis.hget(deps.keys.sale(saleId).purchases, purchaseId));
  if (!rec || !isPending(rec)) return undefined;
  return { purchaseId, saleId, userId: rec.userId, quantity: rec.quantity, status: 'queued', createdAt: new Date(rec.createdAtMs).toISOString() };
}

/**
 * One purchase: the final view in Redis, else (when the sale is known from the owner's
 * index) the gate's queued record, else PostgreSQL (after the 24 h read model expired).
 * Polling never reaches PostgreSQL while hot.
 */
async function findPurchase(deps: ReadDeps, purchaseId: string, saleOf: () => Promise<string | undefined>): Promise<Stored | undefined> {
  const cached = await deps.redis.get(deps.keys.purchase(purchaseId));
  if (cached) return JSON.parse(cached) as Stored;
  const saleId = await saleOf();
  const queued = saleId ? await queuedInGate(deps, purchaseId, saleId) : undefined;
  if (queued) return queued;
  const row = await pgPurchases(deps.db).where('p.id', purchaseId).first();
  return row ? fromPg(row as PgRow) : undefined;
}

/** The sale of one of this user's recent purchases, from their index (the newest USER_INDEX_MAX: a queued purchase is recent). */
async function saleOfIndexed(deps: ReadDeps, userId: string, purchaseId: string): Promise<string | undefined> {
  const members = await deps.redis.zrevrange(deps.keys.userPurchases(userId), 0, USER_INDEX_MAX - 1);
  return members.map(parseMember).find((m) => m.purchaseId === purchaseId)?.saleId;
}

/** One purchase for its owner; anyone else gets undefined (-> 404). */
export async function readPurchase(deps: ReadDeps, purchaseId: string, userId: string): Promise<PurchaseView | undefined> {
  const found = await findPurchase(deps, purchaseId, () => saleOfIndexed(deps, userId, purchaseId));
  return found && found.userId === userId ? strip(found) : undefined;
}

/**
 * A shopper's purchases, newest first: PostgreSQL holds the decided ones; purchases
 * still queued (or decided while the page was read) come from Redis into the first page.
 */
export async function listUserPurchases(deps: ReadDeps, userId: string, page: { limit: number; offset: number }): Promise<PurchaseView[]> {
  const rows = (await pgPurchases(deps.db)
    .where('p.user_id', userId)
    .orderBy('p.admitted_at', 'desc')
    .limit(page.limit)
    .offset(page.offset)) as PgRow[];
  const decided = rows.map(fromPg);
  if (page.offset > 0) return decided.map(strip);
  const userKey = deps.keys.userPurchases(userId);
  await deps.redis.zremrangebyrank(userKey, 0, -USER_INDEX_MAX - 1);
  const recent = (await deps.redis.zrevrange(userKey, 0, page.limit - 1)).map(parseMember);
  const known = new Set(decided.map((p) => p.purchaseId));
  const undecided = await Promise.all(recent.filter((m) => !known.has(m.purchaseId)).map((m) => findPurchase(deps, m.purchaseId, async () => m.saleId)));
  // Not in the page yet: still queued, or decided after the page was read (Redis is fresher).
  const fresher = undecided.filter((p): p is Stored => p !== undefined && p.userId === userId && !known.has(p.purchaseId));
  return [...fresher, ...decided]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, page.limit)
    .map(strip);
}
