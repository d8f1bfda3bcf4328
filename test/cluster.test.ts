import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { createLogger } from '../src/lib/logger';
import { masters } from '../src/lib/redis';
import { checkRedisDurability } from '../src/lib/redis-durability';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';
import { TEST_CLUSTER_NODES } from './env';

/**
 * Runs only in the `cluster` jest project (a private 3-master Redis Cluster): what is
 * particular to a cluster, beyond the suites that run on both (jest.config.js).
 */
describe('On a 3-master Redis Cluster', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ RATE_LIMIT_USER_PER_MIN: '2' }));
  });
  afterAll(async () => stack?.stop());

  it('When the engine starts with REDIS_CLUSTER_NODES, then its clients are cluster clients that see all three masters', async () => {
    expect(TEST_CLUSTER_NODES?.split(',')).toHaveLength(3);
    expect(stack.api.deps.redis).toBeInstanceOf(Cluster);
    expect(masters(stack.api.deps.redis)).toHaveLength(3);
  });

  it('When several sales are created, then their gates spread over the masters and each sells exactly its stock', async () => {
    const sales = await Promise.all(Array.from({ length: 12 }, () => createSale(stack.api.url, { stock: 2, perUserLimit: 1 })));
    const { redis, keys } = stack.api.deps;
    const owners = new Set<string>();
    for (const { saleId } of sales) {
      // Whichever master answers for the sale's remaining key holds the sale's whole gate (one hash tag).
      // (a node asked for a key of another master's slot answers MOVED: not its key)
      for (const node of masters(redis)) {
        if ((await node.exists(keys.sale(saleId).remaining).catch(() => 0)) === 1) owners.add(`${node.options.port}`);
      }
    }
    expect(owners.size).toBeGreaterThanOrEqual(2);

    const replies = await Promise.all(
      sales.flatMap(({ saleId }) => Array.from({ length: 3 }, () => call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`c-${randomUUID()}`) }))),
    );
    expect(replies.filter((r) => r.status === 202)).toHaveLength(24);
    expect(replies.filter((r) => r.status === 409).every((r) => r.body.error.code === 'SOLD_OUT')).toBe(true);
    for (const { saleId } of sales) {
      const stats = await waitFor(async () => {
        const r = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
        return r.body.holds?.held === 2 && r.body.drift === 0 ? r.body : undefined;
      }, `sale ${saleId} decided`);
      expect(stats.remaining).toEqual({ redis: 0, postgres: 0 });
    }
  });

  it('When a shopper goes over the rate limit, then the cluster-backed limiter answers 429 (it never passes silently)', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 10, perUserLimit: 5 });
    const token = shopperToken(`rl-${randomUUID()}`);
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token })).status);
    expect(codes).toEqual([202, 202, 429]);
  });

  it('When durability is checked, then every master is asked and each one without AOF is named', async () => {
    const warnings = await checkRedisDurability(stack.api.deps.redis, createLogger('silent', 'test'));
    const aof = warnings.filter((w) => w.includes('without AOF'));
    expect(aof).toHaveLength(3);
    for (const node of masters(stack.api.deps.redis)) expect(aof.some((w) => w.includes(`:${node.options.port})`))).toBe(true);
  });
});
