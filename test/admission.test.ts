import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { EnqueueBatcher } from '../src/modules/purchases/admission/enqueue-batcher';
import { PurchaseJobData, AdmittedPurchase } from '../src/modules/purchases/job';
import { createPurchaseQueue, Sharded } from '../src/modules/purchases/queue';
import { scopedIdempotencyKey } from '../src/gate/keys';
import { unqueuedPurchaseIds } from '../src/gate/sale-gate';
import { scripts } from '../src/gate/scripts';
import { startWorker } from '../src/worker-process';
import { call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

const attempt = (stack: Stack, saleId: string, token: string, body: unknown = { quantity: 1 }, key?: string) =>
  call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body, headers: key ? { 'idempotency-key': key } : {} });

const remaining = async (stack: Stack, saleId: string) => Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining));

describe('Per-user limit and idempotency', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => stack?.stop());

  it('When one shopper sends 10 parallel attempts with different keys, then only the limit is admitted', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 50, perUserLimit: 2 });
    const token = shopperToken(`greedy-${randomUUID()}`);
    const replies = await Promise.all(Array.from({ length: 10 }, () => attempt(stack, saleId, token, { quantity: 1 }, randomUUID())));
    expect(replies.filter((r) => r.status === 202)).toHaveLength(2);
    expect(replies.filter((r) => r.status === 409).map((r) => r.body.error.code)).toEqual(Array(8).fill('LIMIT_EXCEEDED'));
    expect(await remaining(stack, saleId)).toBe(48);

    const mine = await waitFor(async () => {
      const r = await call(stack.api.url, 'GET', '/api/me/purchases', { token });
      return r.body.items.filter((p: any) => p.saleId === saleId && p.status === 'confirmed').length === 2 ? r.body.items : undefined;
    }, 'two confirmed purchases');
    expect(mine.filter((p: any) => p.saleId === saleId)).toHaveLength(2);
  });

  it('When the limit counts units, then parallel multi-unit attempts never exceed it', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 50, perUserLimit: 3 });
    const token = shopperToken(`units-${randomUUID()}`);
    const replies = await Promise.all(Array.from({ length: 6 }, () => attempt(stack, saleId, token, { quantity: 2 })));
    expect(replies.filter((r) => r.status === 202)).toHaveLength(1);
    expect(await remaining(stack, saleId)).toBe(48);
  });

  it('When the same key is sent 20 times in parallel, then there is one purchase, one id and one unit taken', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 10, perUserLimit: 5 });
    const token = shopperToken(`retry-${randomUUID()}`);
    const key = `key-${randomUUID()}`;
    const replies = await Promise.all(Array.from({ length: 20 }, () => attempt(stack, saleId, token, { quantity: 1 }, key)));
    expect(replies.every((r) => r.status === 202 || r.status === 200)).toBe(true);
    expect(replies.filter((r) => r.status === 202)).toHaveLength(1);
    expect(new Set(replies.map((r) => r.body.purchaseId)).size).toBe(1);
    expect(await remaining(stack, saleId)).toBe(9);

    await waitFor(async () => ((await stack.api.deps.db('orders').where({ sale_id: saleId })).length === 1 ? true : undefined), 'the order');
    const again = await attempt(stack, saleId, token, { quantity: 1 }, key);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ purchaseId: replies[0]!.body.purchaseId, status: 'confirmed' });
    expect(await stack.api.deps.db('orders').where({ sale_id: saleId })).toHaveLength(1);
  });

  it('When the same key comes with another quantity, then 409 IDEMPOTENCY_CONFLICT and nothing taken', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 10, perUserLimit: 5 });
    const token = shopperToken(`conflict-${randomUUID()}`);
    expect((await attempt(stack, saleId, token, { quantity: 1 }, 'k1')).status).toBe(202);
    const conflict = await attempt(stack, saleId, token, { quantity: 2 }, 'k1');
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await remaining(stack, saleId)).toBe(9);
  });

  it('When an attempt was refused, then its key is not remembered and a retry is judged afresh', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 10, perUserLimit: 2 });
    const token = shopperToken(`afresh-${randomUUID()}`);
    const refused = await attempt(stack, saleId, token, { quantity: 3 }, 'k-afresh');
    expect(refused.body.error.code).toBe('LIMIT_EXCEEDED');
    const retried = await attempt(stack, saleId, token, { quantity: 1 }, 'k-afresh');
    expect(retried.status).toBe(202);
  });

  it('When two shoppers (or two sales) use the same key, then they get separate purchases', async () => {
    const a = await createSale(stack.api.url, { stock: 10, perUserLimit: 2 });
    const b = await createSale(stack.api.url, { stock: 10, perUserLimit: 2 });
    const alice = shopperToken(`alice-${randomUUID()}`);
    const bob = shopperToken(`bob-${randomUUID()}`);
    const r1 = await attempt(stack, a.saleId, alice, { quantity: 1 }, 'shared');
    const r2 = await attempt(stack, a.saleId, bob, { quantity: 1 }, 'shared');
    const r3 = await attempt(stack, b.saleId, alice, { quantity: 1 }, 'shared');
    expect([r1.status, r2.status, r3.status]).toEqual([202, 202, 202]);
    expect(new Set([r1.body.purchaseId, r2.body.purchaseId, r3.body.purchaseId]).size).toBe(3);
  });

  it('When the Redis client replays the admission command after a reconnect, then stock is taken once', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 2 });
    const { redis, keys } = stack.api.deps;
    const args = { purchaseId: randomUUID(), userId: 'replayer', quantity: 1, nowMs: Date.now(), idemKey: '' };
    const first = await scripts.admit(redis, keys.sale(saleId), args);
    const replay = await scripts.admit(redis, keys.sale(saleId), { ...args, nowMs: args.nowMs + 5 });
    expect(first[0]).toBe(1);
    expect(replay[0]).toBe(2);
    expect(replay[1]).toBe(args.purchaseId);
    expect(await remaining(stack, saleId)).toBe(4);
    expect(Number(await redis.hget(keys.sale(saleId).users, 'replayer'))).toBe(1);
  });
});

describe('When the queue backlog is over QUEUE_MAX_BACKLOG', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ QUEUE_MAX_BACKLOG: '5', BACKLOG_POLL_MS: '50' }), { worker: false });
  });
  afterAll(async () => stack?.stop());

  it('then attempts get 503 OVERLOADED with Retry-After, nothing is taken, and admission resumes once drained', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 100, perUserLimit: 1 });
    for (let i = 0; i < 5; i++) expect((await attempt(stack, saleId, shopperToken(`b-${saleId}-${i}`))).status).toBe(202);
    const over = await attempt(stack, saleId, shopperToken(`b-${saleId}-over`));
    expect(over.status).toBe(503);
    expect(over.body.error.code).toBe('OVERLOADED');
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await remaining(stack, saleId)).toBe(95);

    const worker = await startWorker(stack.config, stack.api.deps.logger);
    try {
      const resumed = await waitFor(async () => {
        const r = await attempt(stack, saleId, shopperToken(`b-${saleId}-later`));
        return r.status === 202 ? r : undefined;
      }, 'admission to resume after the queue drained');
      expect(resumed.body.status).toBe('queued');
    } finally {
      await worker.stop();
    }
  });
});

describe('When the enqueue fails after the Lua gate admitted the purchase', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => stack?.stop());

  it('then the unit is given back, the shopper gets 503, and the key can be retried', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const { redis, keys, queues } = stack.api.deps;
    const queue = queues.forSale(saleId);
    const user = `enq-${randomUUID()}`;
    const token = shopperToken(user);
    // A real Redis failure for BullMQ's add: its wait list key holds the wrong type.
    const waitKey = `${queue.opts.prefix}:${queue.name}:wait`;
    await redis.set(waitKey, 'not-a-list');
    try {
      const failed = await attempt(stack, saleId, token, { quantity: 1 }, 'enq-key');
      expect(failed.status).toBe(503);
      expect(failed.body.error.code).toBe('QUEUE_UNAVAILABLE');
      expect(await remaining(stack, saleId)).toBe(3);
      expect(Number(await redis.hget(keys.sale(saleId).users, user))).toBe(0);
      expect(await redis.hget(keys.sale(saleId).idempotency, scopedIdempotencyKey(user, 'enq-key'))).toBeNull();
    } finally {
      await redis.del(waitKey);
    }
    const retried = await attempt(stack, saleId, token, { quantity: 1 }, 'enq-key');
    expect(retried.status).toBe(202);
    expect(await remaining(stack, saleId)).toBe(2);
  });
});

describe('Sale key retention', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => stack?.stop());

  it('When admission creates a sale hash after the sale was loaded, then it expires with the sale (endsAt + 48 h)', async () => {
    const endsAt = new Date(Date.now() + 3600_000);
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 2, endsAt: endsAt.toISOString() });
    const token = shopperToken(`ttl-${randomUUID()}`);
    expect((await attempt(stack, saleId, token, { quantity: 1 }, 'ttl-key')).status).toBe(202);
    const k = stack.api.deps.keys.sale(saleId);
    const expected = endsAt.getTime() + 48 * 3600_000;
    for (const key of [k.users, k.purchases, k.stats, k.idempotency, k.meta, k.remaining]) {
      const at = await stack.api.deps.redis.pexpiretime(key);
      expect(Math.abs(at - expected)).toBeLessThan(5000);
    }
  });
});

describe('Purchases admitted together share a queue job', () => {
  let stack: Stack;
  let queue: Queue<PurchaseJobData>;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
    queue = createPurchaseQueue(stack.api.deps.redis, { name: `enqueue-unit-${randomUUID()}`, prefix: stack.api.deps.keys.bullPrefix, attempts: 1, backoffMs: 1 });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    await stack?.stop();
  });

  const purchase = (): AdmittedPurchase => ({ purchaseId: randomUUID(), saleId: randomUUID(), userId: 'u', quantity: 1, admittedAt: Date.now(), idempotencyKey: null });

  it('When purchases are enqueued in one turn of the event loop, then they go in one job, at most ENQUEUE_BATCH_MAX each, named after its first purchase, and each job is marked queued after its add', async () => {
    const noted: number[] = [];
    const marked: string[][] = [];
    const markQueued = async (jobs: AdmittedPurchase[]) => {
      // Marked only once the job is really in the queue.
      expect(await queue.getJob(jobs[0]!.purchaseId)).toBeDefined();
      marked.push(jobs.map((j) => j.purchaseId));
    };
    const batcher = new EnqueueBatcher(new Sharded([queue]), { enqueueing: (n, add) => (noted.push(n), add()) }, 2, { markQueued });
    const five = Array.from({ length: 5 }, purchase);
    await Promise.all(five.map((p) => batcher.enqueue(p)));
    const jobs = (await queue.getWaiting()).sort((a, b) => a.timestamp - b.timestamp || Number(a.id! > b.id!));
    const grouped = jobs.map((j) => j.data.purchases.map((p) => p.purchaseId));
    expect(grouped.map((g) => g.length).sort()).toEqual([1, 2, 2]);
    expect(grouped.flat().sort()).toEqual(five.map((p) => p.purchaseId).sort());
    for (const j of jobs) expect(j.id).toBe(j.data.purchases[0]!.purchaseId); // a replayed add is a no-op
    expect(noted.sort()).toEqual([1, 2, 2]);
    await waitFor(async () => (marked.length === 3 ? true : undefined), 'three markers');
    expect(marked.flat().sort()).toEqual(five.map((p) => p.purchaseId).sort());
  });

  it('When 40 shoppers are admitted at once over HTTP, then each purchase is in exactly one job, and each owner (only the owner) reads it as queued', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 100, perUserLimit: 1 });
    const shoppers = Array.from({ length: 40 }, (_, i) => ({ user: `together-${i}-${randomUUID()}` }));
    const replies = await Promise.all(shoppers.map((s) => attempt(stack, saleId, shopperToken(s.user))));
    expect(replies.map((r) => r.status)).toEqual(Array(40).fill(202));

    const jobs = await stack.api.deps.queues.forSale(saleId).getWaiting();
    const inJobs = jobs.flatMap((j) => j.data.purchases).filter((p) => p.saleId === saleId).map((p) => p.purchaseId);
    expect(inJobs.sort()).toEqual(replies.map((r) => r.body.purchaseId).sort());

    for (const [i, r] of replies.entries()) {
      const mine = await call(stack.api.url, 'GET', r.body.statusUrl, { token: shopperToken(shoppers[i]!.user) });
      expect(mine.body).toMatchObject({ purchaseId: r.body.purchaseId, saleId, quantity: 1, status: 'queued', createdAt: r.body.createdAt });
    }
    // Each purchase id carries its sale (the first 48 bits): no index was written to find it.
    for (const r of replies) expect(r.body.purchaseId.slice(0, 14) + r.body.purchaseId[14]).toBe(`${saleId.slice(0, 14)}8`);
    const someoneElse = await call(stack.api.url, 'GET', replies[0]!.body.statusUrl, { token: shopperToken(shoppers[1]!.user) });
    expect(someoneElse.status).toBe(404);
    const listed = await call(stack.api.url, 'GET', '/api/me/purchases', { token: shopperToken(shoppers[3]!.user) });
    expect(listed.body.items).toEqual([expect.objectContaining({ purchaseId: replies[3]!.body.purchaseId, status: 'queued' })]);
    // Every add was followed by its marker: nothing is left for the orphan sweep.
    const { redis, keys } = stack.api.deps;
    await waitFor(async () => ((await unqueuedPurchaseIds(redis, keys, saleId)).length === 0 ? true : undefined), 'markers of every job');
  });
});
