import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { createLogger } from '../src/lib/logger';
import { masters, probeKeysPerMaster } from '../src/lib/redis';
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

  it("When a shopper goes over the rate limit, then the gate's own count answers 429 on the cluster too (in the sale's slot, exact across API nodes)", async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 10, perUserLimit: 5 });
    const token = shopperToken(`rl-${randomUUID()}`);
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token })).status);
    expect(codes).toEqual([202, 202, 429]);
  });

  it('When the purchase queue is sharded (QUEUE_SHARDS=3 here), then its shards sit on more than one master', async () => {
    expect(stack.config.queueShards).toBe(3);
    const ready = await call(stack.api.url, 'GET', '/api/health/ready');
    expect(ready.status).toBe(200);
    const { redis, keys } = stack.api.deps;
    const owners = new Set<number>();
    for (let shard = 0; shard < 3; shard++) {
      for (const node of masters(redis)) if ((await node.exists(keys.queueHealthProbe(shard)).catch(() => 0)) === 1) owners.add(node.options.port!);
    }
    expect(owners.size).toBeGreaterThanOrEqual(2);
  });

  it('When readiness is asked, then it wrote a probe on every master (a master down or full makes the node not ready)', async () => {
    const ready = await call(stack.api.url, 'GET', '/api/health/ready');
    expect([ready.status, ready.body.checks.redis.ok]).toEqual([200, true]);
    const keys = await probeKeysPerMaster(stack.api.deps.redis, stack.api.deps.keys.healthProbe);
    expect(keys).toHaveLength(3);
    const holders = new Set<number>();
    for (const key of keys) for (const node of masters(stack.api.deps.redis)) if ((await node.exists(key).catch(() => 0)) === 1) holders.add(node.options.port!);
    expect(holders.size).toBe(3);
  });

  it('When one master refuses writes (full, noeviction), then readiness is 503 until it takes writes again', async () => {
    // The run's own cluster (never the shared Redis); restored in finally.
    const node = masters(stack.api.deps.redis)[1]!;
    const [, before] = (await node.config('GET', 'maxmemory')) as string[];
    try {
      await node.config('SET', 'maxmemory', '1');
      const down = await waitFor(async () => {
        const r = await call(stack.api.url, 'GET', '/api/health/ready');
        return r.status === 503 ? r : undefined;
      }, 'readiness to drop');
      expect(down.body.checks.redis.ok).toBe(false);
    } finally {
      await node.config('SET', 'maxmemory', before ?? '0');
    }
    const up = await waitFor(async () => {
      const r = await call(stack.api.url, 'GET', '/api/health/ready');
      return r.status === 200 ? r : undefined;
    }, 'readiness to come back');
    expect(up.body.status).toBe('ok');
  });

  it('When durability is checked, then every master is asked and each one without AOF is named', async () => {
    const warnings = await checkRedisDurability(stack.api.deps.redis, createLogger('silent', 'test'));
    const aof = warnings.filter((w) => w.includes('without AOF'));
    expect(aof).toHaveLength(3);
    for (const node of masters(stack.api.deps.redis)) expect(aof.some((w) => w.includes(`:${node.options.port})`))).toBe(true);
  });
});
