import { Queue } from 'bullmq';
import { RedisClient } from '../../src/lib/redis';
import { Knex } from 'knex';

/**
 * What PostgreSQL and the gate say about one sale, read straight from both (not through
 * the API): the figures the fault tests judge at quiescence.
 */
export type SaleProbe = { db: Knex; redis: RedisClient; prefix: string; queueName: string; saleId: string };

const saleKey = (p: SaleProbe, part: 'remaining' | 'purchases') => `${p.prefix}:sale:{${p.saleId}}:${part}`;

/** Ids of purchases the gate still holds as `queued` or `processing` (units taken, nothing decided yet). */
export async function gateOpen(p: SaleProbe): Promise<string[]> {
  const all = await p.redis.hgetall(saleKey(p, 'purchases'));
  return Object.entries(all)
    .filter(([, rec]) => /^(queued|processing)\|/.test(rec))
    .map(([id]) => id);
}

const LIVE_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/** The purchase queue's job counts (live states and failed). */
export async function queueCounts(p: SaleProbe): Promise<Record<string, number>> {
  const queue = new Queue(p.queueName, { connection: p.redis, prefix: `{${p.prefix}:bull}` });
  try {
    return await queue.getJobCounts(...LIVE_STATES, 'failed', 'completed');
  } finally {
    await queue.close();
  }
}

const liveJobs = (c: Record<string, number>) => LIVE_STATES.reduce((n, s) => n + (c[s] ?? 0), 0);

export type PgPurchase = { id: string; user_id: string; status: string; reason: string | null };

export async function pgPurchases(p: SaleProbe): Promise<PgPurchase[]> {
  return p.db('purchases').where({ sale_id: p.saleId }).select('id', 'user_id', 'status', 'reason');
}

export type Settled = {
  /** All of it held before the deadline. */
  reached: boolean;
  /** From `since` until it held (or until the deadline). */
  ms: number;
  /** Purchase ids answered 200/202 with no decided row in PostgreSQL at the end. */
  undecided: string[];
  gateOpen: number;
  liveJobs: number;
};

/**
 * Polls (every 200 ms, up to `deadline`) until every id in `purchaseIds` has a decided row
 * in PostgreSQL, the queue holds no live job and the gate holds no undecided purchase.
 * Does not throw at the deadline: the caller judges what was left.
 */
export async function settle(p: SaleProbe, purchaseIds: string[], since: number, deadline: number): Promise<Settled> {
  const wanted = new Set(purchaseIds);
  for (;;) {
    const decided = new Set<string>();
    for (let i = 0; i < purchaseIds.length; i += 5000) {
      const rows: { id: string }[] = await p.db('purchases')
        .whereIn('id', purchaseIds.slice(i, i + 5000))
        .whereIn('status', ['confirmed', 'rejected', 'paid', 'expired', 'cancelled'])
        .select('id');
      rows.forEach((r) => decided.add(r.id));
    }
    const undecided = [...wanted].filter((id) => !decided.has(id));
    let open = -1;
    let live = -1;
    try {
      open = (await gateOpen(p)).length;
      live = liveJobs(await queueCounts(p));
    } catch {
      /* Redis not reachable yet: not settled */
    }
    const reached = undecided.length === 0 && open === 0 && live === 0;
    if (reached || Date.now() > deadline) {
      return { reached, ms: Date.now() - since, undecided, gateOpen: open, liveJobs: live };
    }
    await new Promise((r) => setTimeout(r, 200)); // poll period
  }
}

export type Snapshot = {
  stock: number;
  pgRemaining: number;
  redisRemaining: number;
  /** Units in live orders (voided_at is null). */
  sold: number;
  orders: number;
  duplicateOrderPurchases: number;
  confirmed: number;
  rejectedByReason: Record<string, number>;
  gateOpenIds: string[];
  queue: Record<string, number>;
  purchases: PgPurchase[];
};

export async function snapshot(p: SaleProbe): Promise<Snapshot> {
  const inv = await p.db('sale_inventory').where({ sale_id: p.saleId }).first('stock', 'remaining');
  const [o] = await p.db('orders')
    .where({ sale_id: p.saleId })
    .select(
      p.db.raw('count(*)::int AS orders'),
      p.db.raw('(count(*) - count(DISTINCT purchase_id))::int AS dup'),
      p.db.raw('coalesce(sum(quantity) FILTER (WHERE voided_at IS NULL), 0)::int AS sold'),
    );
  const purchases = await pgPurchases(p);
  const rejectedByReason: Record<string, number> = {};
  for (const r of purchases.filter((x) => x.status === 'rejected')) {
    const k = r.reason ?? '(none)';
    rejectedByReason[k] = (rejectedByReason[k] ?? 0) + 1;
  }
  const redisRemaining = await p.redis.get(saleKey(p, 'remaining'));
  return {
    stock: inv.stock,
    pgRemaining: inv.remaining,
    redisRemaining: redisRemaining === null ? NaN : Number(redisRemaining),
    sold: o.sold,
    orders: o.orders,
    duplicateOrderPurchases: o.dup,
    confirmed: purchases.filter((x) => x.status === 'confirmed').length,
    rejectedByReason,
    gateOpenIds: await gateOpen(p),
    queue: await queueCounts(p),
    purchases,
  };
}
