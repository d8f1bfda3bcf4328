import { randomUUID } from 'node:crypto';
import { loadConfig } from '../src/config/config';
import { shardOf } from '../src/modules/purchases/queue';
import { startWorker } from '../src/worker-process';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';
import { testEnv } from './env';

/**
 * The purchase queue split into QUEUE_SHARDS shards chosen by sale: every purchase lands
 * in its sale's shard, workers consume all shards or a configured subset, and stats,
 * backlog and health see every shard. Runs on the single Redis and on the cluster.
 */

describe('The shard of a sale', () => {
  it('When sales are spread over 4 shards, then the choice is stable, in range, and uses every shard', () => {
    const ids = Array.from({ length: 200 }, () => randomUUID());
    const shards = ids.map((id) => shardOf(id, 4));
    expect(ids.map((id) => shardOf(id, 4))).toEqual(shards);
    expect(new Set(shards)).toEqual(new Set([0, 1, 2, 3]));
    expect(ids.every((id) => shardOf(id, 1) === 0)).toBe(true);
    // No shard gets much more than its share (200 / 4 = 50).
    for (let s = 0; s < 4; s++) expect(shards.filter((x) => x === s).length).toBeLessThan(80);
  });

  it('When WORKER_QUEUE_SHARDS names a shard that does not exist, then the configuration is refused', () => {
    expect(() => loadConfig(testEnv({ QUEUE_SHARDS: '2', WORKER_QUEUE_SHARDS: '0,2' }))).toThrow(/WORKER_QUEUE_SHARDS/);
    expect(loadConfig(testEnv({ QUEUE_SHARDS: '4', WORKER_QUEUE_SHARDS: '3,1' })).workerShards).toEqual([1, 3]);
    expect(loadConfig(testEnv({ QUEUE_SHARDS: '3' })).workerShards).toEqual([0, 1, 2]);
  });
});

describe('With the purchase queue in 4 shards', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No in-process worker: the test starts workers for chosen shards.
    stack = await startStack(testConfig({ QUEUE_SHARDS: '4' }), { worker: false });
  });
  afterAll(async () => stack?.stop());

  /** Sales until every shard has at least one. */
  async function salesOnEveryShard(): Promise<{ saleId: string; shard: number }[]> {
    const out: { saleId: string; shard: number }[] = [];
    while (new Set(out.map((s) => s.shard)).size < 4) {
      const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
      out.push({ saleId, shard: stack.api.deps.queues.shardOf(saleId) });
    }
    return out;
  }

  const buyTwice = (saleId: string) =>
    Promise.all([0, 1].map(() => call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`sh-${randomUUID()}`) })));

  it("When shoppers buy in sales of every shard, then each job lands in its sale's shard only; workers for shards 0,1 decide only those sales, and workers for 2,3 the rest", async () => {
    const sales = await salesOnEveryShard();
    const bought = new Map<string, string[]>();
    for (const { saleId } of sales) {
      const replies = await buyTwice(saleId);
      expect(replies.map((r) => r.status)).toEqual([202, 202]);
      bought.set(saleId, replies.map((r) => r.body.purchaseId as string));
    }
    const { queues } = stack.api.deps;
    for (const [shard, queue] of queues.shards.entries()) {
      const inJobs = (await queue.getWaiting()).flatMap((j) => j.data.purchases);
      for (const p of inJobs) expect(queues.shardOf(p.saleId)).toBe(shard);
      const expected = sales.filter((s) => s.shard === shard).flatMap((s) => bought.get(s.saleId)!);
      expect(inJobs.filter((p) => bought.has(p.saleId)).map((p) => p.purchaseId).sort()).toEqual(expected.sort());
    }
    // Stats show the sale's own shard.
    const first = sales[0]!;
    const stats = await call(stack.api.url, 'GET', `/api/admin/sales/${first.saleId}/stats`, { token: adminToken() });
    expect(stats.body.queue.waiting).toBe(await queues.shards[first.shard]!.getWaitingCount());

    const decided = (saleId: string) =>
      Promise.all(bought.get(saleId)!.map(async (id) => (await stack.api.deps.db('purchases').where({ id }).first())?.status as string | undefined));
    const low = await startWorker(loadConfig(testEnv({ QUEUE_NAME: stack.config.queueName, QUEUE_SHARDS: '4', WORKER_QUEUE_SHARDS: '0,1' })), stack.api.deps.logger);
    try {
      for (const s of sales.filter((x) => x.shard <= 1)) {
        await waitFor(async () => ((await decided(s.saleId)).every((st) => st === 'confirmed') ? true : undefined), `sale on shard ${s.shard} decided`);
      }
      // The other shards' purchases are still waiting for their workers.
      for (const s of sales.filter((x) => x.shard >= 2)) expect(await decided(s.saleId)).toEqual([undefined, undefined]);
    } finally {
      await low.stop();
    }
    const high = await startWorker(loadConfig(testEnv({ QUEUE_NAME: stack.config.queueName, QUEUE_SHARDS: '4', WORKER_QUEUE_SHARDS: '2,3' })), stack.api.deps.logger);
    try {
      for (const s of sales.filter((x) => x.shard >= 2)) {
        await waitFor(async () => ((await decided(s.saleId)).every((st) => st === 'confirmed') ? true : undefined), `sale on shard ${s.shard} decided`);
      }
    } finally {
      await high.stop();
    }
    for (const { saleId } of sales) {
      const s = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
      expect(s.body).toMatchObject({ drift: 0, remaining: { redis: 1, postgres: 1 }, holds: { held: 2 } });
    }
  });

  it('When readiness is asked, then every shard took its probe write', async () => {
    const ready = await call(stack.api.url, 'GET', '/api/health/ready');
    expect([ready.status, ready.body.checks.queue.ok]).toEqual([200, true]);
    for (let shard = 0; shard < 4; shard++) expect(await stack.api.deps.redis.exists(stack.api.deps.keys.queueHealthProbe(shard))).toBe(1);
  });
});
