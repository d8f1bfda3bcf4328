import { RedisClient } from '../../lib/redis';
import { Db } from '../../lib/db';
import { Keys, shopperFields } from '../../gate/keys';
import { PurchaseSales } from './purchase-id';
import { isPending, parseGateRecord } from '../../gate/record';
import { scripts } from '../../gate/scripts';
import { PurchaseStatus, PurchaseView, purchaseView } from './view';

type Stored = PurchaseView & { userId: string };

/** A sale's purchases may still be queued this long after it ends (the backlog draining). */
const QUEUED_AFTER_END_MS = 3600_000;

/**
 * Writes purchase views into their sales' read models (one script per sale, the views of a
 * sale sharing its slot). Pollers read them there until the sale's keys expire (48 h after
 * its end); PostgreSQL answers afterwards. A worker's decisions go in with its finalize.
 */
export async function writeReadModel(redis: RedisClient, keys: Keys, items: Stored[]): Promise<void> {
  const bySale = new Map<string, [string, string][]>();
  for (const p of items) {
    const views = bySale.get(p.saleId) ?? [];
    views.push([p.purchaseId, JSON.stringify(p)]);
    bySale.set(p.saleId, views);
  }
  await Promise.all([...bySale].map(([saleId, views]) => scripts.writeViews(redis, keys.sale(saleId), views)));
}

/** The JSON a sale's read model keeps for a purchase: its view and its owner. */
export const storedView = (view: PurchaseView, userId: string): string => JSON.stringify({ ...view, userId });

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

/** A purchase as its sale's gate has it: the decided view, else the queued record (claimed by a worker is still queued to the shopper). */
async function inGate(deps: ReadDeps, purchaseId: string, saleId: string): Promise<Stored | undefined> {
  const k = deps.keys.sale(saleId);
  const view = await deps.redis.hget(k.views, purchaseId);
  if (view) return JSON.parse(view) as Stored;
  const rec = parseGateRecord(await deps.redis.hget(k.purchases, purchaseId));
  if (!rec || !isPending(rec)) return undefined;
  return { purchaseId, saleId, userId: rec.userId, quantity: rec.quantity, status: 'queued', createdAt: new Date(rec.createdAtMs).toISOString() };
}

/**
 * One purchase: from the gate of the sale its id names (the decided view, else the queued
 * record), else PostgreSQL (after the sale's keys expired, or an id made before ids carried
 * their sale). Polling never reaches PostgreSQL while hot (the id's sale is looked up once
 * per process).
 */
async function findPurchase(deps: ReadDeps, purchaseId: string, knownSale?: string): Promise<Stored | undefined> {
  for (const saleId of knownSale ? [knownSale] : await deps.purchaseSales.salesOf(purchaseId)) {
    const found = await inGate(deps, purchaseId, saleId);
    if (found) return found;
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
 * within the hour): the ids each sale's gate keeps for them (admit-8's `p:<userId>`).
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
