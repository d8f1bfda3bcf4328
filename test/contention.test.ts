import { call, createSale, pool, shopperToken, Stack, startStack, testConfig, waitFor, adminToken } from './helpers';

/**
 * The headline invariant: under heavy concurrent demand through real HTTP, exactly
 * the stock is admitted and confirmed, nobody exceeds the limit, and Redis and
 * PostgreSQL agree at quiescence.
 */
describe('When 1,500 shoppers fire 2,000 attempts at a sale of 300 units with 200 in flight', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ PG_POOL_MAX: '10' }));
  });
  afterAll(async () => stack?.stop());

  it('then exactly 300 are admitted and confirmed, nobody is over the limit, and every counter agrees', async () => {
    const base = stack.api.url;
    const { saleId } = await createSale(base, { stock: 300, perUserLimit: 2 });
    const shoppers = Array.from({ length: 1500 }, (_, i) => `crowd-${saleId.slice(0, 8)}-${i}`);
    const tokens = new Map(shoppers.map((s) => [s, shopperToken(s)]));
    // 2,000 attempts: every shopper once, 500 of them twice.
    const attempts = [...shoppers, ...shoppers.slice(0, 500)].map((s) => ({ user: s }));

    let inFlight = 0;
    let peak = 0;
    const replies = await pool(
      attempts.map(({ user }) => async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          const r = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: tokens.get(user), body: { quantity: 1 } });
          return { user, status: r.status, body: r.body };
        } finally {
          inFlight--;
        }
      }),
      200,
    );
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
          admitted.map((a) => () => call(base, 'GET', a.body.statusUrl, { token: tokens.get(a.user) })),
          50,
        );
        return seen.every((s) => s.body.status !== 'queued') ? seen : undefined;
      },
      'every admitted purchase to leave queued',
      60_000,
      250,
    );
    expect(finals.every((f) => f.status === 200)).toBe(true);
    expect(finals.filter((f) => f.body.status === 'confirmed')).toHaveLength(300);

    const perUser = new Map<string, number>();
    for (const a of admitted) perUser.set(a.user, (perUser.get(a.user) ?? 0) + 1);
    expect(Math.max(...perUser.values())).toBeLessThanOrEqual(2);

    const db = stack.api.deps.db;
    const inventory = await db('sale_inventory').where({ sale_id: saleId }).first();
    const orders = await db('orders').where({ sale_id: saleId }).count<{ count: string }[]>('* as count');
    const overLimit = await db('orders').where({ sale_id: saleId }).groupBy('user_id').havingRaw('sum(quantity) > 2').select('user_id');
    const dupes = await db('orders').where({ sale_id: saleId }).groupBy('purchase_id').havingRaw('count(*) > 1').select('purchase_id');
    const redisRemaining = Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining));
    expect(inventory.remaining).toBe(0);
    expect(redisRemaining).toBe(0);
    expect(Number(orders[0]!.count)).toBe(300);
    expect(overLimit).toHaveLength(0);
    expect(dupes).toHaveLength(0);

    // Refusals answered by the in-process sold-out cache reach the stats within a flush period.
    const stats = await waitFor(async () => {
      const r = await call(base, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
      return r.status === 200 && r.body.refused.SOLD_OUT === 1700 ? r : undefined;
    }, 'stats to count every refusal');
    expect(stats.body).toMatchObject({
      saleId,
      stock: 300,
      remaining: { redis: 0, postgres: 0 },
      drift: 0,
      // Nobody pays in this test: all 300 units are held by confirmed, unpaid purchases.
      units: { sold: 0, held: 300, returned: 0, rejected: 0 },
      admitted: 300,
      decided: { confirmed: 300, rejected: 0, byReason: {} },
      holds: { held: 300, paid: 0, expired: 0, cancelled: 0 },
      orders: { count: 300, units: 300 },
      refused: { SOLD_OUT: 1700 },
    });
    expect(stats.body.queue).toEqual({ waiting: 0, active: 0, delayed: 0, failed: 0 });
  });
});
