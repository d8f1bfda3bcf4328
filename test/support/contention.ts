import { Knex } from 'knex';
import { pool, waitFor } from '../helpers';

/** What the contention audit needs of a reply, direct or through nginx. */
type AnyReply = { status: number; body: any };

/**
 * The headline invariant, one audit for every way in (test/contention.test.ts calls the API
 * directly, test/nginx.test.ts goes through nginx): 1,500 shoppers fire 2,000 attempts (each
 * once, 500 of them twice) at a sale of 300 units, limit 2, with 200 in flight. Exactly 300
 * are admitted and confirmed and 1,700 refused SOLD_OUT, nobody is over the limit, every 202
 * leaves `queued`, PostgreSQL and Redis both end at 0, one order per purchase, and the stats
 * count every decision and refusal. Returns the replies and how long the burst took.
 */
export async function contentionAudit<S extends { user: string }>(opts: {
  saleId: string;
  shoppers: S[];
  attempt: (shopper: S) => Promise<AnyReply>;
  read: (shopper: S, statusUrl: string) => Promise<AnyReply>;
  db: Knex;
  redisRemaining: () => Promise<number>;
  stats: () => Promise<AnyReply>;
}): Promise<{ ms: number }> {
  const { saleId, shoppers, db } = opts;
  expect(shoppers).toHaveLength(1500);
  const attempts = [...shoppers, ...shoppers.slice(0, 500)];
  let inFlight = 0;
  let peak = 0;
  const started = Date.now();
  const replies = await pool(
    attempts.map((shopper) => async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        return { shopper, ...(await opts.attempt(shopper)) };
      } finally {
        inFlight--;
      }
    }),
    200,
  );
  const ms = Date.now() - started;
  expect(peak).toBeGreaterThanOrEqual(200);

  const admitted = replies.filter((r) => r.status === 202);
  const refused = replies.filter((r) => r.status === 409);
  expect(admitted).toHaveLength(300);
  expect(refused).toHaveLength(1700);
  expect(new Set(refused.map((r) => r.body.error.code))).toEqual(new Set(['SOLD_OUT']));
  expect(replies.every((r) => r.status === 202 || r.status === 409)).toBe(true);

  // Every 202 leaves `queued` for a terminal status, seen by its owner.
  const finals = await waitFor(
    async () => {
      const seen = await pool(
        admitted.map((a) => () => opts.read(a.shopper, a.body.statusUrl as string)),
        50,
      );
      return seen.every((s) => s.body?.status !== 'queued') ? seen : undefined;
    },
    'every admitted purchase to leave queued',
    60_000,
    250,
  );
  expect(finals.every((f) => f.status === 200)).toBe(true);
  expect(finals.filter((f) => f.body.status === 'confirmed')).toHaveLength(300);

  const perUser = new Map<string, number>();
  for (const a of admitted) perUser.set(a.shopper.user, (perUser.get(a.shopper.user) ?? 0) + 1);
  expect(Math.max(...perUser.values())).toBeLessThanOrEqual(2);

  const inventory = await db('sale_inventory').where({ sale_id: saleId }).first();
  const orders = await db('orders').where({ sale_id: saleId }).count<{ count: string }[]>('* as count');
  const overLimit = await db('orders').where({ sale_id: saleId }).groupBy('user_id').havingRaw('sum(quantity) > 2').select('user_id');
  const dupes = await db('orders').where({ sale_id: saleId }).groupBy('purchase_id').havingRaw('count(*) > 1').select('purchase_id');
  expect(inventory.remaining).toBe(0);
  expect(await opts.redisRemaining()).toBe(0);
  expect(Number(orders[0]!.count)).toBe(300);
  expect(overLimit).toHaveLength(0);
  expect(dupes).toHaveLength(0);

  // Refusals answered by an API's in-process sold-out cache reach the stats within a flush period.
  const stats = await waitFor(async () => {
    const r = await opts.stats();
    return r.status === 200 && r.body.refused.SOLD_OUT === 1700 ? r : undefined;
  }, 'stats to count every refusal');
  expect(stats.body).toMatchObject({
    saleId,
    stock: 300,
    remaining: { redis: 0, postgres: 0 },
    drift: 0,
    // Nobody pays here: all 300 units are held by confirmed, unpaid purchases.
    units: { sold: 0, held: 300, returned: 0, rejected: 0 },
    admitted: 300,
    decided: { confirmed: 300, rejected: 0, byReason: {} },
    holds: { held: 300, paid: 0, expired: 0, cancelled: 0 },
    orders: { count: 300, units: 300 },
    refused: { SOLD_OUT: 1700 },
  });
  expect(stats.body.queue).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  return { ms };
}
