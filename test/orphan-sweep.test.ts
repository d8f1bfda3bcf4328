import { randomUUID } from 'node:crypto';
import { AdmittedPurchase } from '../src/modules/purchases/job';
import { ORPHAN_REASON, sweepOrphans } from '../src/modules/recovery/orphan-sweep';
import { Reconciler } from '../src/modules/recovery/reconciler';
import { enqueuePurchases } from '../src/modules/purchases/queue';
import { PurchaseUpdate } from '../src/realtime/events';
import { scopedIdempotencyKey } from '../src/gate/keys';
import { unqueuedPurchaseIds } from '../src/gate/sale-gate';
import { newPurchaseId } from '../src/modules/purchases/purchase-id';
import { scripts } from '../src/gate/scripts';
import { RunningWorker, startWorker } from '../src/worker-process';
import { call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/**
 * The orphan sweep on the real gate, queue and PostgreSQL. An orphan is made the way the
 * faults make one: the gate admits (the Lua script runs) and no job is ever added, as when
 * the gate's reply is lost or the API dies before its add.
 */
describe('Orphan sweep', () => {
  let stack: Stack;
  const GRACE_MS = 1000;
  beforeAll(async () => {
    // Its own key prefix: the report counts only this file's sales.
    stack = await startStack(testConfig({ REDIS_PREFIX: `fsorph${randomUUID().slice(0, 8)}` }), { worker: false });
  });
  afterAll(async () => stack?.stop());

  const sweepDeps = (notified: { userId: string; update: PurchaseUpdate }[] = []) => ({
    ...stack.api.deps,
    graceMs: GRACE_MS,
    notify: (userId: string, update: PurchaseUpdate) => void notified.push({ userId, update }),
  });

  /** Runs the gate for one unit, as admission would, and adds no job. */
  async function admitOnly(saleId: string, user: string, opts: { idemKey?: string; nowMs?: number } = {}) {
    const { redis, keys } = stack.api.deps;
    const purchaseId = newPurchaseId(saleId);
    const [code] = await scripts.admit(redis, keys.sale(saleId), {
      purchaseId,
      userId: user,
      quantity: 1,
      nowMs: opts.nowMs ?? Date.now(),
      idemKey: opts.idemKey ? scopedIdempotencyKey(user, opts.idemKey) : '',
    });
    expect(code).toBe(1);
    return purchaseId;
  }

  const remaining = async (saleId: string) => Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining));
  const gateRecord = (saleId: string, purchaseId: string) => stack.api.deps.redis.hget(stack.api.deps.keys.sale(saleId).purchases, purchaseId);

  it('When a purchase was admitted longer ago than the grace period and no job holds it, then the sweep rejects it (ENQUEUE_FAILED), gives its unit back, records it in PostgreSQL, tells its owner, and frees its idempotency key', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const user = `orphan-${randomUUID()}`;
    const purchaseId = await admitOnly(saleId, user, { idemKey: 'k-1' });
    expect(await remaining(saleId)).toBe(2);

    // Younger than the grace period: left alone.
    const early = await sweepOrphans(sweepDeps());
    expect(early.rejected).toBe(0);
    expect(await remaining(saleId)).toBe(2);

    const notified: { userId: string; update: PurchaseUpdate }[] = [];
    const report = await sweepOrphans(sweepDeps(notified), Date.now() + GRACE_MS + 1);
    expect(report).toMatchObject({ candidates: 1, inJobs: 0, rejected: 1 });
    expect(await remaining(saleId)).toBe(3);
    expect(await gateRecord(saleId, purchaseId)).toMatch(/^rejected\|1\|/);
    const row = await stack.api.deps.db('purchases').where({ id: purchaseId }).first();
    expect(row).toMatchObject({ status: 'rejected', reason: ORPHAN_REASON, user_id: user });
    const polled = await call(stack.api.url, 'GET', `/api/purchases/${purchaseId}`, { token: shopperToken(user) });
    expect(polled.body).toMatchObject({ purchaseId, saleId, status: 'rejected', reason: ORPHAN_REASON });
    // The owner hears the same purchase a poll reads.
    expect(notified).toEqual([{ userId: user, update: polled.body }]);

    // The same key again is judged afresh (a new purchase), like any refused attempt.
    const retry = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, {
      token: shopperToken(user),
      body: { quantity: 1 },
      headers: { 'idempotency-key': 'k-1' },
    });
    expect(retry.status).toBe(202);
    expect(retry.body.purchaseId).not.toBe(purchaseId);

    // A second sweep finds nothing: the entry is gone.
    expect((await sweepOrphans(sweepDeps(), Date.now() + GRACE_MS + 1)).candidates).toBe(0);
  });

  it('When a keyed retry finds a purchase whose first answer was lost (the API died before its queue add), then it answers 200 with it and its statusUrl reads it as queued, not 404', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    const user = `lost-answer-${randomUUID()}`;
    const purchaseId = await admitOnly(saleId, user, { idemKey: 'k-lost' });
    const retry = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, {
      token: shopperToken(user),
      body: { quantity: 1 },
      headers: { 'idempotency-key': 'k-lost' },
    });
    expect(retry.status).toBe(200);
    expect(retry.body.purchaseId).toBe(purchaseId);
    const polled = await call(stack.api.url, 'GET', retry.body.statusUrl, { token: shopperToken(user) });
    expect(polled.status).toBe(200);
    expect(polled.body).toMatchObject({ purchaseId, status: 'queued' });

    // No job ever held it: the sweep settles it, and the same statusUrl says so.
    expect((await sweepOrphans(sweepDeps(), Date.now() + GRACE_MS + 1)).rejected).toBe(1);
    const settled = await call(stack.api.url, 'GET', retry.body.statusUrl, { token: shopperToken(user) });
    expect(settled.body).toMatchObject({ purchaseId, status: 'rejected', reason: ORPHAN_REASON });
  });

  it('When an old candidate does have a job (its marker was lost), then the sweep leaves it to the worker, which confirms it', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    const user = `marked-late-${randomUUID()}`;
    const purchaseId = await admitOnly(saleId, user);
    const job: AdmittedPurchase = { purchaseId, saleId, userId: user, quantity: 1, admittedAt: Date.now(), idempotencyKey: null };
    await enqueuePurchases(stack.api.deps.queues.forSale(saleId), [job]);

    const report = await sweepOrphans(sweepDeps(), Date.now() + GRACE_MS + 1);
    expect(report).toMatchObject({ candidates: 1, inJobs: 1, rejected: 0 });
    expect(await gateRecord(saleId, purchaseId)).toMatch(/^queued\|/);
    expect(await remaining(saleId)).toBe(1);

    const worker = await startWorker(stack.config, stack.api.deps.logger);
    try {
      const polled = await waitFor(async () => {
        const r = await call(stack.api.url, 'GET', `/api/purchases/${purchaseId}`, { token: shopperToken(user) });
        return r.body.status === 'confirmed' ? r.body : undefined;
      }, 'the worker to confirm it');
      expect(polled.orderId).toEqual(expect.any(String));
    } finally {
      await worker.stop();
    }
  });

  it('When a worker has claimed a purchase (processing), then the sweep never rejects it', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    const purchaseId = await admitOnly(saleId, `claimed-${randomUUID()}`);
    // The claim also takes it off the sweep's list; put it back to prove the status guard holds alone.
    await scripts.claim(stack.api.deps.redis, stack.api.deps.keys.sale(saleId), [purchaseId]);
    await stack.api.deps.redis.hset(stack.api.deps.keys.sale(saleId).unqueued, purchaseId, `${Date.now() - 60_000}|`);

    const report = await sweepOrphans(sweepDeps(), Date.now() + GRACE_MS + 1);
    expect(report.rejected).toBe(0);
    expect(await gateRecord(saleId, purchaseId)).toMatch(/^processing\|/);
    expect(await remaining(saleId)).toBe(1);
    expect(await stack.api.deps.db('purchases').where({ id: purchaseId }).first()).toBeUndefined();
  });

  it('When an open sale has no gate in Redis (created while Redis refused writes, or lost), then the reconciler the sweep runs rebuilds it from PostgreSQL', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 4, perUserLimit: 1 });
    const { redis, keys } = stack.api.deps;
    await redis.del(...Object.values(keys.sale(saleId)));
    const rebuilt = await new Reconciler({ ...stack.api.deps, graceMs: stack.config.orphans.graceMs }).rebuildMissing();
    expect(rebuilt.map((r) => r.saleId)).toContain(saleId);
    expect(await remaining(saleId)).toBe(4);
    expect(await redis.exists(keys.sale(saleId).meta)).toBe(1);
  });

  it('When purchases are admitted over HTTP and queued normally, then the sweep has no candidates and rejects nothing', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 20, perUserLimit: 1 });
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`normal-${i}-${saleId}`), body: { quantity: 1 } })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(10).fill(202));
    const { redis, keys } = stack.api.deps;
    await waitFor(async () => ((await unqueuedPurchaseIds(redis, keys, saleId)).length === 0 ? true : undefined), 'markers after the adds');
    const report = await sweepOrphans(sweepDeps(), Date.now() + 3600_000);
    expect(report.rejected).toBe(0);
    expect(await remaining(saleId)).toBe(10);
  });
});

describe('When a worker process runs with a short orphan grace period', () => {
  let stack: Stack;
  let worker: RunningWorker | undefined;
  beforeAll(async () => {
    stack = await startStack(testConfig({ ORPHAN_GRACE_MS: '800', ORPHAN_SWEEP_MS: '200', REDIS_PREFIX: `fsorph${randomUUID().slice(0, 8)}` }), { worker: false });
    worker = await startWorker(stack.config, stack.api.deps.logger);
  });
  afterAll(async () => {
    await worker?.stop();
    await stack?.stop();
  });

  it('then an orphan is settled on its own, without a person, within the grace period plus a few sweeps', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1 });
    const user = `auto-${randomUUID()}`;
    const { redis, keys } = stack.api.deps;
    const purchaseId = newPurchaseId(saleId);
    const startedAt = Date.now();
    await scripts.admit(redis, keys.sale(saleId), { purchaseId, userId: user, quantity: 1, nowMs: startedAt, idemKey: '' });
    expect(await redis.get(keys.sale(saleId).remaining)).toBe('0');

    const settled = await waitFor(async () => {
      const r = await call(stack.api.url, 'GET', `/api/purchases/${purchaseId}`, { token: shopperToken(user) });
      return r.status === 200 && r.body.status === 'rejected' ? r.body : undefined;
    }, 'the sweep to settle the orphan', 10_000);
    expect(settled).toMatchObject({ status: 'rejected', reason: 'ENQUEUE_FAILED' });
    expect(Date.now() - startedAt).toBeLessThan(800 + 5 * 200 + 2000);
    expect(await redis.get(keys.sale(saleId).remaining)).toBe('1');
    const inv = await stack.api.deps.db('sale_inventory').where({ sale_id: saleId }).first();
    expect(inv.remaining).toBe(1);
  });
});
