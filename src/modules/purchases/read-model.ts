import { RedisClient } from '../../lib/redis';
import { Db } from '../../lib/db';
import { Keys, shopperFields } from '../../gate/keys';
import { PurchaseSales } from './purchase-id';
import { isPending, parseGateRecord } from '../../gate/record';
import { PurchaseStatus, PurchaseView, purchaseView } from './view';

type Stored = PurchaseView & { userId: string };

/** Pollers read purchases from Redis for this long; PostgreSQL answers afterwards. */
const READ_MODEL_TTL_S = 24 * 3600;
/** A sale's purchases may still be queued this long after it ends (the backlog draining). */
const QUEUED_AFTER_END_MS = 3600_000;

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

export type ReadDeps = { redis: RedisClient; db: Db; keys: Keys; purchaseSales: PurchaseSales };

/** A purchase the gate still holds as queued (or claimed by a worker, which to the shopper is queued). */
async function queuedInGate(deps: ReadDeps, purchaseId: string, saleId: string): Promise<Stored | undefined> {
  const rec = parseGateRecord(await deps.redis.hget(deps.keys.sale(saleId).purchases, purchaseId));
  if (!rec || !isPending(rec)) return undefined;
  return { purchaseId, saleId, userId: rec.userId, quantity: rec.quantity, status: 'queued', createdAt: new Date(rec.createdAtMs).toISOString() };
}

/**
 * One purchase: the final view in Redis, else the gate's queued record (the sale is in the
 * purchase's id), else PostgreSQL (after the 24 h read model expired). Polling never reaches
 * PostgreSQL while hot (the id's sale is looked up once per process).
 */
async function findPurchase(deps: ReadDeps, purchaseId: string, knownSale?: string): Promise<Stored | undefined> {
  const cached = await deps.redis.get(deps.keys.purchase(purchaseId));
  if (cached) return JSON.parse(cached) as Stored;
  for (const saleId of knownSale ? [knownSale] : await deps.purchaseSales.salesOf(purchaseId)) {
    const queued = await queuedInGate(deps, purchaseId, saleId);
    if (queued) return queued;
  }
  const row = await pgPurchases(deps.db).where('p.id', purchaseId).first();
  return row ? fromPg(row as PgRow) : undefined;
}

/** One purchase for its owner; anyone else gets undefined (-> 404). */
export async function readPurchase(deps: ReadDeps, purchaseId: string, userId: string): Promise<PurchaseView | undefined> {
  const found = await findPurchase(deps, purchaseId);
  return found && found.userId === userId ? strip(found) : undefined;
}

/**
 * The shopper's latest purchases in sales that may still have some queued (open, or ended
 * within the hour): the ids each sale's gate keeps for them (admit-7's `p:<userId>`).
 */
async function recentInGates(deps: ReadDeps, userId: string): Promise<{ purchaseId: string; saleId: string }[]> {
  const now = Date.now();
  const sales = await deps.db('sales')
    .select<{ id: string }[]>('id')
    .where('starts_at', '<=', new Date(now))
    .andWhere('ends_at', '>', new Date(now - QUEUED_AFTER_END_MS));
  const field = shopperFields(userId).recent;
  const lists = await Promise.all(sales.map((s) => deps.redis.hget(deps.keys.sale(s.id).users, field)));
  return sales.flatMap((s, i) => (lists[i] ? lists[i]!.split(',').map((purchaseId) => ({ purchaseId, saleId: s.id })) : []));
}

/**
 * A shopper's purchases, newest first: PostgreSQL holds the decided ones; purchases
 * still queued (or decided while the page was read) come from Redis into the first page.
 */
export async function listUserPurchases(deps: ReadDeps, userId: string, page: { limit: number; offset: number }): Promise<PurchaseView[]> {
  const [rows, recent] = await Promise.all([
    pgPurchases(deps.db).where('p.user_id', userId).orderBy('p.admitted_at', 'desc').limit(page.limit).offset(page.offset) as Promise<PgRow[]>,
    page.offset > 0 ? [] : recentInGates(deps, userId),
  ]);
  const decided = rows.map(fromPg);
  const known = new Set(decided.map((p) => p.purchaseId));
  const undecided = await Promise.all(recent.filter((m) => !known.has(m.purchaseId)).map((m) => findPurchase(deps, m.purchaseId, m.saleId)));
  // Not in the page yet: still queued, or decided after the page was read (Redis is fresher).
  const fresher = undecided.filter((p): p is Stored => p !== undefined && p.userId === userId && !known.has(p.purchaseId));
  return [...fresher, ...decided]
    .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt))
    .slice(0, page.limit)
    .map(strip);
}
