import { randomUUID } from 'node:crypto';
import { attemptPurchase } from '../src/modules/purchases/admission/admission';
import { PURCHASE_JOB_NAME, AdmittedPurchase } from '../src/modules/purchases/job';
import { startWorker, RunningWorker } from '../src/worker-process';
import { testEnv } from './env';
import { adminToken, call, createSale, killed, pool, shopperToken, spawnWorker, Stack, startStack, testConfig, waitFor } from './helpers';

/** Attempts `n` single-unit purchases by distinct shoppers; returns the admitted ones. */
async function buy(stack: Stack, saleId: string, n: number) {
  const replies = await pool(
    Array.from({ length: n }, (_, i) => async () => {
      const user = `s-${saleId.slice(0, 8)}-${i}`;
      const token = shopperToken(user);
      const r = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });
      return { user, token, status: r.status, body: r.body };
    }),
    20,
  );
  return replies.filter((r) => r.status === 202);
}

/** The queue's view of an admitted single-unit purchase, to deliver it again by hand. */
const jobOf = (saleId: string, a: Awaited<ReturnType<typeof buy>>[number]): AdmittedPurchase => ({
  purchaseId: a.body.purchaseId,
  saleId,
  userId: a.user,
  quantity: 1,
  admittedAt: Date.parse(a.body.createdAt),
  idempotencyKey: null,
});

async function finalStatuses(stack: Stack, admitted: Awaited<ReturnType<typeof buy>>, timeoutMs = 30_000) {
  return waitFor(
    async () => {
      const seen = await Promise.all(admitted.map((a) => call(stack.api.url, 'GET', a.body.statusUrl, { token: a.token })));
      return seen.every((s) => s.body.status !== 'queued') ? seen.map((s) => s.body) : undefined;
    },
    'all purchases to reach a final status',
    timeoutMs,
    100,
  );
}

async function consistency(stack: Stack, saleId: string) {
  const { db, redis, keys } = stack.api.deps;
  const inv = await db('sale_inventory').where({ sale_id: saleId }).first();
  const orders = await db('orders').where({ sale_id: saleId }).select('purchase_id');
  return {
    pgRemaining: inv.remaining as number,
    redisRemaining: Number(await redis.get(keys.sale(saleId).remaining)),
    orders: orders.length,
    distinctOrderPurchases: new Set(orders.map((o) => o.purchase_id)).size,
  };
}

/** Backends of worker write transactions currently parked open by the fault-injection hold. */
async function heldTransactions(stack: Stack): Promise<number[]> {
  const { rows } = await stack.api.deps.db.raw(
    `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE '%fault-hold%' AND state = 'idle in transaction' AND pid <> pg_backend_pid()`,
  );
  return rows.map((r: { pid: number }) => r.pid);
}

describe('When a worker process is killed with SIGKILL in the middle of a write transaction', () => {
  let stack: Stack;
  let replacement: RunningWorker | undefined;
  const overrides = { WORKER_LOCK_MS: '1500', WORKER_STALLED_INTERVAL_MS: '500' };
  beforeAll(async () => {
    stack = await startStack(testConfig(overrides), { worker: false });
  });
  afterAll(async () => {
    await replacement?.stop();
    await stack?.stop();
  });

  it('then a new worker finishes every admitted purchase exactly once, with no duplicate order', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 40, perUserLimit: 1 });
    const victim = await spawnWorker(testEnv({ QUEUE_NAME: stack.config.queueName, WORKER_FAULT_HOLD_MS: '60000', ...overrides }));
    const admitted = await buy(stack, saleId, 50);
    expect(admitted).toHaveLength(40);

    // Provably mid-job: BullMQ reports active jobs and PostgreSQL shows the open transaction.
    await waitFor(async () => ((await stack.api.deps.queues.forSale(saleId).getActiveCount()) > 0 ? true : undefined), 'an active job');
    await waitFor(async () => ((await heldTransactions(stack)).length > 0 ? true : undefined), 'an open write transaction');
    victim.kill('SIGKILL');
    await killed(victim);

    replacement = await startWorker(stack.config, stack.api.deps.logger);
    const finals = await finalStatuses(stack, admitted);
    expect(finals.filter((f) => f.status === 'confirmed')).toHaveLength(40);
    expect(await consistency(stack, saleId)).toEqual({ pgRemaining: 0, redisRemaining: 0, orders: 40, distinctOrderPurchases: 40 });
  });

  it('then a job delivered again after it was confirmed changes nothing', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const [first] = await buy(stack, saleId, 1);
    const [done] = await finalStatuses(stack, [first!]);
    expect(done.status).toBe('confirmed');

    const again = await stack.api.deps.queues.forSale(saleId).add(PURCHASE_JOB_NAME, { purchases: [jobOf(saleId, first!)] }, { jobId: `redelivery-${randomUUID()}` });
    await waitFor(async () => ((await again.getState()) === 'completed' ? true : undefined), 'the redelivered job to complete');
    // A completed job keeps counts only (the outcomes live in PostgreSQL and the read model).
    expect((await stack.api.deps.queues.forSale(saleId).getJob(again.id!))?.returnvalue).toEqual({ confirmed: 1, rejected: 0, skipped: 0 });
    expect(await consistency(stack, saleId)).toEqual({ pgRemaining: 2, redisRemaining: 2, orders: 1, distinctOrderPurchases: 1 });
    const view = await call(stack.api.url, 'GET', first!.body.statusUrl, { token: first!.token });
    expect(view.body).toMatchObject({ status: 'confirmed', orderId: done.orderId });
  });
});

describe('When a worker process gets SIGTERM while a job is in hand', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => stack?.stop());

  it('then it finishes that job before exiting 0', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const child = await spawnWorker(testEnv({ QUEUE_NAME: stack.config.queueName, WORKER_FAULT_HOLD_MS: '1000' }));
    const [p] = await buy(stack, saleId, 1);
    await waitFor(async () => ((await heldTransactions(stack)).length > 0 ? true : undefined), 'the open write transaction');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const view = await call(stack.api.url, 'GET', p!.body.statusUrl, { token: p!.token });
    expect(view.body.status).toBe('confirmed');
  });
});

describe('When PostgreSQL fails under the worker', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(
      testConfig({ WORKER_FAULT_HOLD_MS: '700', WORKER_ATTEMPTS: '3', WORKER_BACKOFF_MS: '50' }),
    );
  });
  afterAll(async () => stack?.stop());

  it('then a connection terminated mid-transaction is retried and the purchase ends confirmed', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    const [p] = await buy(stack, saleId, 1);
    const victims = await waitFor(async () => {
      const pids = await heldTransactions(stack);
      return pids.length > 0 ? pids : undefined;
    }, 'the worker transaction');
    const { rows } = await stack.api.deps.db.raw('SELECT pg_terminate_backend(pid) AS killed FROM unnest(?::int[]) AS pid', [victims]);
    expect(rows.every((r: { killed: boolean }) => r.killed)).toBe(true);

    const [done] = await finalStatuses(stack, [p!]);
    expect(done.status).toBe('confirmed');
    expect(await consistency(stack, saleId)).toEqual({ pgRemaining: 1, redisRemaining: 1, orders: 1, distinctOrderPurchases: 1 });
  });

  it('then a job that keeps failing ends rejected with PROCESSING_FAILED and gives its unit back exactly once', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const { db, redis, keys, queues } = stack.api.deps;
    const queue = queues.forSale(saleId);
    const fn = `fail_${saleId.replace(/-/g, '')}`;
    // A real, persistent database failure for this sale's orders only.
    await db.raw(`CREATE FUNCTION ${fn}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql`);
    await db.raw(`CREATE TRIGGER ${fn} BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.sale_id = '${saleId}') EXECUTE FUNCTION ${fn}()`);
    try {
      const [p] = await buy(stack, saleId, 1);
      const [done] = await finalStatuses(stack, [p!]);
      expect(done).toMatchObject({ status: 'rejected', reason: 'PROCESSING_FAILED' });
      expect(await consistency(stack, saleId)).toEqual({ pgRemaining: 5, redisRemaining: 5, orders: 0, distinctOrderPurchases: 0 });
      expect(Number(await redis.hget(keys.sale(saleId).users, p!.user))).toBe(0);

      // Delivered again: PostgreSQL already holds the outcome, so no unit is given back twice.
      const again = await queue.add(PURCHASE_JOB_NAME, { purchases: [jobOf(saleId, p!)] }, { jobId: p!.body.purchaseId });
      await waitFor(async () => ((await again.getState()) === 'completed' ? true : undefined), 'the redelivered job');
      expect(await consistency(stack, saleId)).toEqual({ pgRemaining: 5, redisRemaining: 5, orders: 0, distinctOrderPurchases: 0 });
      const stats = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
      expect(stats.body.decided.byReason).toEqual({ PROCESSING_FAILED: 1 });
    } finally {
      await db.raw(`DROP TRIGGER IF EXISTS ${fn} ON orders`);
      await db.raw(`DROP FUNCTION IF EXISTS ${fn}()`);
    }
  });

  it('then a batch that fails part-way commits every other purchase and only the poison one ends PROCESSING_FAILED', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 20, perUserLimit: 1 });
    const { db } = stack.api.deps;
    const poison = `s-${saleId.slice(0, 8)}-3`; // the 4th shopper `buy` uses
    const fn = `poison_${saleId.replace(/-/g, '')}`;
    await db.raw(`CREATE FUNCTION ${fn}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'poison'; END $$ LANGUAGE plpgsql`);
    await db.raw(`CREATE TRIGGER ${fn} BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.user_id = '${poison}') EXECUTE FUNCTION ${fn}()`);
    try {
      const admitted = await buy(stack, saleId, 12);
      expect(admitted).toHaveLength(12);
      const finals = await finalStatuses(stack, admitted);
      const byUser = new Map(admitted.map((a, i) => [a.user, finals[i]]));
      expect(byUser.get(poison)).toMatchObject({ status: 'rejected', reason: 'PROCESSING_FAILED' });
      expect(finals.filter((f) => f.status === 'confirmed')).toHaveLength(11);
      expect(await consistency(stack, saleId)).toEqual({ pgRemaining: 9, redisRemaining: 9, orders: 11, distinctOrderPurchases: 11 });
    } finally {
      await db.raw(`DROP TRIGGER IF EXISTS ${fn} ON orders`);
      await db.raw(`DROP FUNCTION IF EXISTS ${fn}()`);
    }
  });

  it('then a sale whose database stock was lowered behind Redis rejects the purchase and gives the unit back', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    await stack.api.deps.db('sale_inventory').where({ sale_id: saleId }).update({ remaining: 0 });
    const [p] = await buy(stack, saleId, 1);
    const [done] = await finalStatuses(stack, [p!]);
    expect(done).toMatchObject({ status: 'rejected', reason: 'SOLD_OUT' });
    const c = await consistency(stack, saleId);
    expect(c).toMatchObject({ pgRemaining: 0, redisRemaining: 3, orders: 0 });
  });
});

describe('When one purchase of a shared queue job keeps failing', () => {
  let stack: Stack;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    stack = await startStack(testConfig({ WORKER_ATTEMPTS: '3', WORKER_BACKOFF_MS: '50' }), { worker: false });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('then the other purchases in its job are written once and confirmed, and only the poison one ends PROCESSING_FAILED', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 20, perUserLimit: 1 });
    const { db } = stack.api.deps;
    const users = Array.from({ length: 12 }, (_, i) => `shared-${saleId.slice(0, 8)}-${i}`);
    const poison = users[5]!;
    const fn = `poison_${saleId.replace(/-/g, '')}`;
    await db.raw(`CREATE FUNCTION ${fn}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'poison'; END $$ LANGUAGE plpgsql`);
    await db.raw(`CREATE TRIGGER ${fn} BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.user_id = '${poison}') EXECUTE FUNCTION ${fn}()`);
    try {
      // Through the real admission path, in one turn of the event loop: one shared job.
      const admitted = await Promise.all(users.map((userId) => attemptPurchase(stack.api.deps, { saleId, userId, quantity: 1, idempotencyKey: null })));
      const jobs = await stack.api.deps.queues.forSale(saleId).getWaiting();
      const poisonId = admitted[5]!.purchase.purchaseId;
      const shared = jobs.find((j) => j.data.purchases.some((p) => p.purchaseId === poisonId))!;
      expect(shared.data.purchases.length).toBeGreaterThan(1);

      worker = await startWorker(stack.config, stack.api.deps.logger);
      const finals = await finalStatuses(
        stack,
        admitted.map((a, i) => ({ user: users[i]!, token: shopperToken(users[i]!), status: 202, body: { statusUrl: `/api/purchases/${a.purchase.purchaseId}` } })),
      );
      expect(finals[5]).toMatchObject({ status: 'rejected', reason: 'PROCESSING_FAILED' });
      expect(finals.filter((f) => f.status === 'confirmed')).toHaveLength(11);
      const rows = await db('purchases').whereIn('id', admitted.map((a) => a.purchase.purchaseId)).select('id');
      expect(rows).toHaveLength(12); // each written exactly once, however often its job ran
      expect(await consistency(stack, saleId)).toEqual({ pgRemaining: 9, redisRemaining: 9, orders: 11, distinctOrderPurchases: 11 });
    } finally {
      await db.raw(`DROP TRIGGER IF EXISTS ${fn} ON orders`);
      await db.raw(`DROP FUNCTION IF EXISTS ${fn}()`);
    }
  });
});
