import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig } from './helpers';
import { contentionAudit } from './support/contention';

/**
 * The headline invariant: under heavy concurrent demand through real HTTP, exactly
 * the stock is admitted and confirmed, nobody exceeds the limit, and Redis and
 * PostgreSQL agree at quiescence (the audit itself: test/support/contention.ts).
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
    const shoppers = Array.from({ length: 1500 }, (_, i) => {
      const user = `crowd-${saleId.slice(0, 8)}-${i}`;
      return { user, token: shopperToken(user) };
    });
    await contentionAudit({
      saleId,
      shoppers,
      attempt: (s) => call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: s.token, body: { quantity: 1 } }),
      read: (s, statusUrl) => call(base, 'GET', statusUrl, { token: s.token }),
      db: stack.api.deps.db,
      redisRemaining: async () => Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining)),
      stats: () => call(base, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() }),
    });
  });
});
