import { scopedIdempotencyKey } from '../src/gate/keys';
import { PURCHASE_JOB_NAME } from '../src/modules/purchases/job';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/** Polls a purchase until a worker decided it. */
async function decided(stack: Stack, purchaseId: string, token: string) {
  return waitFor(async () => {
    const r = await call(stack.api.url, 'GET', `/api/purchases/${purchaseId}`, { token });
    return r.body.status === 'queued' ? undefined : r.body;
  }, `purchase ${purchaseId} decided`);
}

describe('When a purchase job runs out of attempts (PROCESSING_FAILED)', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ WORKER_ATTEMPTS: '2', WORKER_BACKOFF_MS: '10' }));
  });
  afterAll(() => stack.stop());

  it('then it is a dead letter with its last error, and replaying it (twice, after Redis forgot the key, and by re-enqueueing the original job) never sells twice', async () => {
    const { db, redis, keys, queues } = stack.api.deps;
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 2 });
    const user = `dl-${saleId}`;
    const token = shopperToken(user);
    const fn = `dl_${saleId.slice(0, 8)}`;
    await db.raw(`CREATE FUNCTION ${fn}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql`);
    await db.raw(`CREATE TRIGGER ${fn} BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.sale_id = '${saleId}') EXECUTE FUNCTION ${fn}()`);
    let failedId: string;
    try {
      const attempt = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });
      expect(attempt.status).toBe(202);
      failedId = attempt.body.purchaseId;
      expect(await decided(stack, failedId, token)).toMatchObject({ status: 'rejected', reason: 'PROCESSING_FAILED' });
    } finally {
      await db.raw(`DROP TRIGGER IF EXISTS ${fn} ON orders`);
      await db.raw(`DROP FUNCTION IF EXISTS ${fn}()`);
    }

    // Listed, with what failed and how often.
    const list = await waitFor(async () => {
      const r = await call(stack.api.url, 'GET', '/api/admin/dead-letters?kind=purchase&limit=100', { token: adminToken() });
      return r.body.items.find((d: { id: string }) => d.id === failedId) ? r : undefined;
    }, 'the dead letter');
    expect(list.body.total).toBeGreaterThanOrEqual(1);
    expect(list.body.items.find((d: { id: string }) => d.id === failedId)).toEqual({
      id: failedId,
      kind: 'purchase',
      failedAt: expect.any(String),
      attempts: 2,
      lastError: expect.stringContaining('injected fault'),
      replays: 0,
      purchase: { saleId, userId: user, quantity: 1 },
    });

    // Replay: a new attempt through the gate and the worker, confirmed once the fault is gone.
    const first = await call(stack.api.url, 'POST', `/api/admin/dead-letters/${failedId}/replay`, { token: adminToken() });
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ id: failedId, kind: 'purchase', replayed: true, replays: 1, purchase: { saleId, quantity: 1, status: 'queued' } });
    const replayId = first.body.purchase.purchaseId as string;
    expect(replayId).not.toBe(failedId);
    expect(await decided(stack, replayId, token)).toMatchObject({ status: 'confirmed', orderId: expect.any(String) });

    // Again: the same purchase (the gate's idempotency key), nothing taken.
    const second = await call(stack.api.url, 'POST', `/api/admin/dead-letters/${failedId}/replay`, { token: adminToken() });
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ replayed: false, purchase: { purchaseId: replayId, status: 'confirmed' } });
    const open = await call(stack.api.url, 'GET', '/api/admin/dead-letters?kind=purchase&limit=100', { token: adminToken() });
    expect(open.body.items.some((d: { id: string }) => d.id === failedId)).toBe(false);

    // Redis forgets the key: the gate admits a copy, and the worker refuses it from PostgreSQL.
    await redis.hdel(keys.sale(saleId).idempotency, scopedIdempotencyKey(user, `replay-${failedId}`));
    const third = await call(stack.api.url, 'POST', `/api/admin/dead-letters/${failedId}/replay`, { token: adminToken() });
    expect(third.status).toBe(202);
    const copyId = third.body.purchase.purchaseId as string;
    expect(await decided(stack, copyId, token)).toMatchObject({ status: 'rejected', reason: 'DUPLICATE_ATTEMPT' });

    // The original job delivered again (the exactly-once path): its rejection is reported, never rewritten.
    const job = await queues.forSale(saleId).add(PURCHASE_JOB_NAME, {
      purchases: [{ purchaseId: failedId, saleId, userId: user, quantity: 1, admittedAt: Date.now() - 10_000, idempotencyKey: null }],
    });
    await waitFor(async () => ((await job.getState()) === 'completed' ? true : undefined), 'the redelivered job');
    expect(await job.getState()).toBe('completed');

    // One order for this shopper; PostgreSQL and Redis agree on what is left.
    const orders = await db('orders').where({ sale_id: saleId, user_id: user }).select('purchase_id');
    expect(orders).toEqual([{ purchase_id: replayId }]);
    const purchases = await db('purchases').where({ sale_id: saleId }).orderBy('admitted_at').select('id', 'status', 'reason');
    expect(purchases).toEqual([
      { id: failedId, status: 'rejected', reason: 'PROCESSING_FAILED' },
      { id: replayId, status: 'confirmed', reason: null },
      { id: copyId, status: 'rejected', reason: 'DUPLICATE_ATTEMPT' },
    ]);
    const inv = await db('sale_inventory').where({ sale_id: saleId }).first();
    expect(inv.remaining).toBe(4);
    await waitFor(async () => (Number(await redis.get(keys.sale(saleId).remaining)) === 4 ? true : undefined), 'Redis to agree');
  });

  it('then a replay of an unknown id is 404 DEAD_LETTER_NOT_FOUND, a malformed one too, and the list validates its query', async () => {
    const unknown = await call(stack.api.url, 'POST', '/api/admin/dead-letters/7d0c7a3e-1111-4000-8000-000000000000/replay', { token: adminToken() });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('DEAD_LETTER_NOT_FOUND');
    expect((await call(stack.api.url, 'POST', '/api/admin/dead-letters/nope/replay', { token: adminToken() })).status).toBe(404);
    expect((await call(stack.api.url, 'GET', '/api/admin/dead-letters?kind=other', { token: adminToken() })).status).toBe(400);
    expect((await call(stack.api.url, 'GET', '/api/admin/dead-letters', { token: shopperToken('x') })).status).toBe(403);
    expect((await call(stack.api.url, 'GET', '/api/admin/dead-letters')).status).toBe(401);
  });
});
