import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { PURCHASE_JOB_NAME, AdmittedPurchase } from '../src/modules/purchases/job';
import { scripts } from '../src/gate/scripts';
import { RunningWorker, startWorker } from '../src/worker-process';
import { PrivateRedis, startPrivateRedis } from './faults/private-redis';
import { adminToken, call, createSale, pool, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

type Admitted = { user: string; token: string; status: number; body: any };

/** One attempt by `user`; `key` adds an Idempotency-Key. */
async function attempt(stack: Stack, saleId: string, user: string, quantity = 1, key?: string): Promise<Admitted> {
  const token = shopperToken(user);
  const r = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, {
    token,
    body: { quantity },
    headers: key ? { 'idempotency-key': key } : {},
  });
  return { user, token, status: r.status, body: r.body };
}

/** `n` single-unit attempts by fresh shoppers, 10 in flight; returns every reply. */
async function crowd(stack: Stack, saleId: string, n: number, tag: string): Promise<Admitted[]> {
  return pool(
    Array.from({ length: n }, (_, i) => () => attempt(stack, saleId, `${tag}-${saleId.slice(0, 8)}-${i}`)),
    10,
  );
}

const admittedOnly = (replies: Admitted[]) => replies.filter((r) => r.status === 202);

async function finalStatuses(stack: Stack, admitted: Admitted[], timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const seen = await Promise.all(admitted.map((a) => call(stack.api.url, 'GET', `/api/purchases/${a.body.purchaseId}`, { token: a.token })));
      return seen.every((s) => s.status === 200 && s.body.status !== 'queued') ? seen.map((s) => s.body) : undefined;
    },
    'every purchase to reach a final status',
    timeoutMs,
    100,
  );
}

const reconcile = (stack: Stack, saleId: string, token = adminToken(), body?: unknown) =>
  call(stack.api.url, 'POST', `/api/admin/sales/${saleId}/reconcile`, { token, body });

const stats = async (stack: Stack, saleId: string) =>
  (await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() })).body;

/** Deletes every Redis key of the sale (what a lost or evicted gate looks like); the queue is untouched. */
async function deleteSaleKeys(stack: Stack, saleId: string): Promise<void> {
  const { redis, keys } = stack.api.deps;
  await redis.del(...Object.values(keys.sale(saleId)));
}

/** Every key of the sale's gate, as stored. */
async function gateState(stack: Stack, saleId: string) {
  const { redis, keys } = stack.api.deps;
  const k = keys.sale(saleId);
  const [meta, remaining, users, idem, purchases, stats] = await Promise.all([
    redis.hgetall(k.meta),
    redis.get(k.remaining),
    redis.hgetall(k.users),
    redis.hgetall(k.idempotency),
    redis.hgetall(k.purchases),
    redis.hgetall(k.stats),
  ]);
  return { meta, remaining, users, idem, purchases, stats };
}

/** PostgreSQL's facts about the sale, and the gate's remaining. */
async function ledger(stack: Stack, saleId: string) {
  const { db, redis, keys } = stack.api.deps;
  const inv = await db('sale_inventory').where({ sale_id: saleId }).first();
  const orders = await db('orders').where({ sale_id: saleId }).select('purchase_id', 'user_id', 'quantity');
  const perUser = new Map<string, number>();
  for (const o of orders) perUser.set(o.user_id, (perUser.get(o.user_id) ?? 0) + o.quantity);
  return {
    stock: inv.stock as number,
    pgRemaining: inv.remaining as number,
    redisRemaining: Number(await redis.get(keys.sale(saleId).remaining)),
    orders: orders.length,
    distinctOrderPurchases: new Set(orders.map((o) => o.purchase_id)).size,
    sold: orders.reduce((n, o) => n + o.quantity, 0),
    maxUnitsPerUser: Math.max(0, ...perUser.values()),
  };
}

describe('When a sale\'s Redis keys are deleted mid-sale while its queue survives', () => {
  let stack: Stack;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('then reconcile counts the queued purchases, every one of them still ends confirmed, nothing is oversold and admissions resume', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 10, perUserLimit: 2 });
    // No worker: these purchases wait in the queue. Six purchases, seven units; one keyed, for two units.
    const singles = admittedOnly(await crowd(stack, saleId, 5, 'a'));
    const keyed = await attempt(stack, saleId, `a-keyed-${saleId}`, 2, 'pair-1');
    expect(singles).toHaveLength(5);
    expect(keyed.status).toBe(202);
    const admitted = [...singles, keyed];
    expect((await stats(stack, saleId)).drift).toBe(0);

    await deleteSaleKeys(stack, saleId);
    expect((await stats(stack, saleId)).drift).toBeNull();

    const r = await reconcile(stack, saleId);
    expect(r.status).toBe(200);
    // Not the stock (10): the seven queued units stay taken.
    expect(r.body).toMatchObject({
      saleId,
      keysWereMissing: true,
      before: { redisRemaining: null, pgRemaining: 10 },
      after: { redisRemaining: 3, pgRemaining: 10 },
      inflight: { purchases: 6, units: 7 },
      sold: 0,
      held: 0,
      drift: null,
    });
    expect(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining)).toBe('3');
    expect((await stats(stack, saleId)).drift).toBe(0);

    // The rebuilt gate remembers the key and the buyer's units.
    const retried = await attempt(stack, saleId, keyed.user, 2, 'pair-1');
    expect(retried).toMatchObject({ status: 200, body: { purchaseId: keyed.body.purchaseId } });
    expect((await attempt(stack, saleId, keyed.user, 1)).body.error.code).toBe('LIMIT_EXCEEDED');

    worker = await startWorker(stack.config, stack.api.deps.logger);
    const finals = await finalStatuses(stack, admitted);
    expect(finals.map((f) => f.status)).toEqual(Array(6).fill('confirmed'));
    expect(await ledger(stack, saleId)).toMatchObject({ pgRemaining: 3, redisRemaining: 3, orders: 6, distinctOrderPurchases: 6, sold: 7 });

    // More attempts than units left: exactly the 3 remaining units are sold, no more.
    const late = admittedOnly(await crowd(stack, saleId, 8, 'a-late'));
    expect(late).toHaveLength(3);
    expect((await finalStatuses(stack, late)).map((f) => f.status)).toEqual(Array(3).fill('confirmed'));
    const end = await ledger(stack, saleId);
    expect(end).toMatchObject({ stock: 10, pgRemaining: 0, redisRemaining: 0, orders: 9, distinctOrderPurchases: 9, sold: 10 });
    expect(end.maxUnitsPerUser).toBeLessThanOrEqual(2);
    expect((await stats(stack, saleId)).drift).toBe(0);
  });
});

describe('When a worker starts while a sale\'s Redis keys are missing', () => {
  let stack: Stack;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('then it rebuilds the sale\'s gate before taking jobs, and the queued purchases end confirmed', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const admitted = admittedOnly(await crowd(stack, saleId, 2, 'c'));
    expect(admitted).toHaveLength(2);
    await deleteSaleKeys(stack, saleId);

    worker = await startWorker(stack.config, stack.api.deps.logger);
    const { redis, keys } = stack.api.deps;
    expect(await redis.exists(keys.sale(saleId).meta)).toBe(1);
    await finalStatuses(stack, admitted);
    expect(await ledger(stack, saleId)).toMatchObject({ pgRemaining: 3, redisRemaining: 3, orders: 2 });
    // Admissions work at once (no 503 first).
    expect((await attempt(stack, saleId, `c-after-${saleId}`)).status).toBe(202);
  });
});

describe('When Redis without persistence loses all its data (FLUSHALL) mid-sale', () => {
  let redisServer: PrivateRedis | undefined;
  let stack: Stack;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    // Its own redis-server rather than the suite's logical database: FLUSHALL (what a
    // restart without persistence amounts to) must not wipe what other suites hold.
    redisServer = await startPrivateRedis({ label: 'reconcile-flushall' });
    stack = await startStack(testConfig({ REDIS_URL: redisServer.url }), { worker: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
    await redisServer?.destroy();
  });

  it('then the queued purchases are the documented loss, the gate is rebuilt on the next attempt, and the sale sells out exactly', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 12, perUserLimit: 1 });
    worker = await startWorker(stack.config, stack.api.deps.logger);
    const confirmed = admittedOnly(await crowd(stack, saleId, 4, 'b-early'));
    expect(confirmed).toHaveLength(4);
    await finalStatuses(stack, confirmed);
    await worker.stop();
    worker = undefined;

    // Admitted while no worker runs: still queued in Redis when it loses everything.
    const lost = admittedOnly(await crowd(stack, saleId, 3, 'b-queued'));
    expect(lost).toHaveLength(3);
    const flusher = new Redis(redisServer!.url);
    await flusher.flushall();
    await flusher.quit();

    // The first attempt finds the sale missing: 503 with Retry-After 1, and the gate is rebuilt behind it.
    const first = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`b-first-${saleId}`), body: { quantity: 1 } });
    expect(first.status).toBe(503);
    expect(first.body.error.code).toBe('SALE_UNAVAILABLE');
    expect(first.headers.get('retry-after')).toBe('1');

    const resumed = await waitFor(async () => {
      const r = await attempt(stack, saleId, `b-retry-${randomUUID()}`);
      return r.status === 202 ? r : undefined;
    }, 'admissions to resume after the rebuild', 10_000, 100);
    // PostgreSQL's 8 left, minus the one just admitted: the lost purchases hold nothing.
    expect((await gateState(stack, saleId)).remaining).toBe('7');

    worker = await startWorker(stack.config, stack.api.deps.logger);
    const sold = [resumed, ...admittedOnly(await crowd(stack, saleId, 30, 'b-late'))];
    expect(sold).toHaveLength(8);
    expect((await finalStatuses(stack, sold)).map((f) => f.status)).toEqual(Array(8).fill('confirmed'));

    const end = await ledger(stack, saleId);
    expect(end).toMatchObject({ stock: 12, pgRemaining: 0, redisRemaining: 0, orders: 12, distinctOrderPurchases: 12, sold: 12 });
    expect(end.sold + end.pgRemaining).toBe(end.stock);
    expect(end.maxUnitsPerUser).toBe(1);
    expect((await stats(stack, saleId)).drift).toBe(0);

    // The documented loss: purchases still queued when Redis lost its data are gone (never confirmed).
    for (const p of lost) {
      expect((await call(stack.api.url, 'GET', `/api/purchases/${p.body.purchaseId}`, { token: p.token })).status).toBe(404);
    }
  });
});

describe('Reconcile as an admin operation', () => {
  let stack: Stack;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('When Redis remaining is tampered with, then stats show the drift, and reconcile brings it back to 0', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 6, perUserLimit: 1 });
    expect(admittedOnly(await crowd(stack, saleId, 2, 'd'))).toHaveLength(2);
    const { redis, keys } = stack.api.deps;
    await redis.incrby(keys.sale(saleId).remaining, 3);
    expect((await stats(stack, saleId)).drift).toBe(3);

    const r = await reconcile(stack, saleId);
    expect(r.body).toMatchObject({
      keysWereMissing: false,
      before: { redisRemaining: 7, pgRemaining: 6 },
      after: { redisRemaining: 4, pgRemaining: 6 },
      inflight: { purchases: 2, units: 2 },
      drift: 3,
    });
    const s = await stats(stack, saleId);
    expect(s).toMatchObject({ drift: 0, remaining: { redis: 4, postgres: 6 }, admitted: 2 });
  });

  it('When reconcile runs twice, then the second changes nothing; unknown sales are 404, shoppers 403, bodies strict', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 2 });
    expect((await attempt(stack, saleId, `e-1-${saleId}`, 2, 'k1')).status).toBe(202);
    expect((await attempt(stack, saleId, `e-2-${saleId}`, 1)).status).toBe(202);
    await deleteSaleKeys(stack, saleId);

    const first = await reconcile(stack, saleId);
    const afterFirst = await gateState(stack, saleId);
    const second = await reconcile(stack, saleId);
    expect(await gateState(stack, saleId)).toEqual(afterFirst);
    expect(first.body.after).toEqual({ redisRemaining: 2, pgRemaining: 5 });
    expect(second.body).toMatchObject({
      keysWereMissing: false,
      before: { redisRemaining: 2, pgRemaining: 5 },
      after: { redisRemaining: 2, pgRemaining: 5 },
      inflight: { purchases: 2, units: 3 },
      drift: 0,
    });
    expect(afterFirst.users).toEqual({ [`e-1-${saleId}`]: '2', [`e-2-${saleId}`]: '1' });
    const ttl = await stack.api.deps.redis.pttl(stack.api.deps.keys.sale(saleId).meta);
    expect(ttl).toBeGreaterThan(47 * 3600_000);

    const expectError = (r: { status: number; body: any }, status: number, code: string) => {
      expect(r.status).toBe(status);
      expect(r.body.error.code).toBe(code);
    };
    expectError(await reconcile(stack, randomUUID()), 404, 'SALE_NOT_FOUND');
    expectError(await reconcile(stack, 'not-a-uuid'), 404, 'SALE_NOT_FOUND');
    expectError(await reconcile(stack, saleId, shopperToken('nosy')), 403, 'FORBIDDEN');
    expectError(await call(stack.api.url, 'POST', `/api/admin/sales/${saleId}/reconcile`), 401, 'UNAUTHENTICATED');
    expectError(await reconcile(stack, saleId, adminToken(), { force: true }), 400, 'VALIDATION_FAILED');
    expect((await reconcile(stack, saleId, adminToken(), {})).status).toBe(200);
  });

  it('When PostgreSQL decided a purchase whose finalize had not run yet, then reconcile closes it in the gate and the late finalize gives nothing back twice', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const [p] = admittedOnly(await crowd(stack, saleId, 1, 'f'));
    const { db, redis, keys } = stack.api.deps;
    const k = keys.sale(saleId);
    // A worker claimed it and committed a rejection, then died before finalize.
    await scripts.claim(redis, k, [p!.body.purchaseId]);
    await db('purchases').insert({
      id: p!.body.purchaseId,
      sale_id: saleId,
      user_id: p!.user,
      quantity: 1,
      status: 'rejected',
      reason: 'SOLD_OUT',
      idempotency_key: null,
      admitted_at: new Date(p!.body.createdAt),
    });

    const r = await reconcile(stack, saleId);
    expect(r.body).toMatchObject({ settled: 1, inflight: { purchases: 0, units: 0 }, after: { redisRemaining: 5, pgRemaining: 5 } });
    expect(await redis.hget(k.purchases, p!.body.purchaseId)).toMatch(/^rejected\|/);
    expect(await redis.hget(k.stats, 'rejected:SOLD_OUT')).toBe('1');

    expect(await scripts.finalize(redis, k, [{ purchaseId: p!.body.purchaseId, status: 'rejected', reason: 'SOLD_OUT' }])).toEqual([0]);
    expect(await redis.get(k.remaining)).toBe('5');
    expect(await redis.hget(k.users, p!.user)).toBeNull();
  });

  it('When a purchase was admitted long ago but never reached the queue, then reconcile rejects it (ENQUEUE_FAILED) and gives its unit back; a fresh one stays counted', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const { redis, keys } = stack.api.deps;
    const k = keys.sale(saleId);
    // What admit-8 leaves when the API's enqueue and its compensation both failed.
    const admitWithoutJob = async (purchaseId: string, userId: string, atMs: number) => {
      await redis.hset(k.purchases, purchaseId, `queued|1|${atMs}|${userId}`);
      await redis.decrby(k.remaining, 1);
      await redis.hincrby(k.users, userId, 1);
    };
    const orphan = { id: randomUUID(), user: `g-old-${saleId}` };
    const fresh = { id: randomUUID(), user: `g-new-${saleId}` };
    await admitWithoutJob(orphan.id, orphan.user, Date.now() - 10 * 60_000);
    await admitWithoutJob(fresh.id, fresh.user, Date.now());

    const r = await reconcile(stack, saleId);
    expect(r.body).toMatchObject({ orphansRejected: 1, inflight: { purchases: 1, units: 1 }, after: { redisRemaining: 4, pgRemaining: 5 } });
    const row = await stack.api.deps.db('purchases').where({ id: orphan.id }).first();
    expect(row).toMatchObject({ status: 'rejected', reason: 'ENQUEUE_FAILED' });
    const view = await call(stack.api.url, 'GET', `/api/purchases/${orphan.id}`, { token: shopperToken(orphan.user) });
    expect(view.body).toMatchObject({ status: 'rejected', reason: 'ENQUEUE_FAILED' });
    expect(await redis.hget(k.users, orphan.user)).toBeNull();
    expect(await redis.hget(k.users, fresh.user)).toBe('1');

    // Should its job land after all, the worker finds the decision and changes nothing.
    worker = await startWorker(stack.config, stack.api.deps.logger);
    const job: AdmittedPurchase = { purchaseId: orphan.id, saleId, userId: orphan.user, quantity: 1, admittedAt: Date.now() - 10 * 60_000, idempotencyKey: null };
    const late = await stack.api.deps.queues.forSale(saleId).add(PURCHASE_JOB_NAME, { purchases: [job] }, { jobId: orphan.id });
    await waitFor(async () => ((await late.getState()) === 'completed' ? true : undefined), 'the late job');
    expect(await stack.api.deps.db('orders').where({ purchase_id: orphan.id })).toHaveLength(0);
    expect(await redis.get(k.remaining)).toBe('4');
  });
});
