import { randomUUID } from 'node:crypto';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

const attempt = (stack: Stack, saleId: string, user: string) =>
  call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(user), body: { quantity: 1 } });

/** Polls attempts by fresh shoppers until one is admitted; returns how long it took. */
async function msUntilAdmitted(stack: Stack, saleId: string): Promise<number> {
  const started = Date.now();
  await waitFor(async () => ((await attempt(stack, saleId, `late-${randomUUID()}`)).status === 202 ? true : undefined), 'an admission', 5000, 20);
  return Date.now() - started;
}

describe('The sold-out fast path', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => stack?.stop());

  it('When a sale is sold out, then attempts are refused without touching the gate, and still counted', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1 });
    expect((await attempt(stack, saleId, 'first')).status).toBe(202);
    expect((await attempt(stack, saleId, 'second')).body.error.code).toBe('SOLD_OUT'); // from the gate: now cached
    const { redis, keys } = stack.api.deps;
    const k = keys.sale(saleId);
    const before = Number(await redis.hget(k.stats, 'refused:SOLD_OUT'));
    // Hide the sale from the gate: had the script run, it would answer 503 SALE_UNAVAILABLE.
    await redis.rename(k.meta, `${k.meta}:hidden`);
    let replies;
    try {
      replies = await Promise.all(Array.from({ length: 20 }, (_, i) => attempt(stack, saleId, `crowd-${i}`)));
    } finally {
      await redis.rename(`${k.meta}:hidden`, k.meta);
    }
    expect(replies.map((r) => r.body.error?.code)).toEqual(Array(20).fill('SOLD_OUT'));
    const total = await waitFor(async () => {
      const n = Number(await redis.hget(k.stats, 'refused:SOLD_OUT'));
      return n === before + 20 ? n : undefined;
    }, 'the cached refusals to be flushed into stats');
    expect(total).toBe(before + 20);
  });

  it('When a unit comes back after a database rejection, then the sale admits again within a second', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    // PostgreSQL holds one unit fewer than the gate: one of the two admitted purchases is rejected there.
    await stack.api.deps.db('sale_inventory').where({ sale_id: saleId }).update({ remaining: 1 });
    const a = await attempt(stack, saleId, `a-${saleId}`);
    const b = await attempt(stack, saleId, `b-${saleId}`);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect((await attempt(stack, saleId, `c-${saleId}`)).body.error.code).toBe('SOLD_OUT');

    await waitFor(async () => ((await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining)) === '1' ? true : undefined), 'the unit to be given back');
    // Room for the late buyer in PostgreSQL too, so the admitted purchase can be confirmed.
    await stack.api.deps.db('sale_inventory').where({ sale_id: saleId }).increment('remaining', 1);
    expect(await msUntilAdmitted(stack, saleId)).toBeLessThan(1000);
  });

  it('When stock is raised on a sold-out sale, then it admits again within a second', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1 });
    expect((await attempt(stack, saleId, `x-${saleId}`)).status).toBe(202);
    expect((await attempt(stack, saleId, `y-${saleId}`)).body.error.code).toBe('SOLD_OUT');
    const { db, redis, keys } = stack.api.deps;
    await db('sale_inventory').where({ sale_id: saleId }).increment({ stock: 5, remaining: 5 });
    await db('sales').where({ id: saleId }).increment('stock', 5);
    await redis.incrby(keys.sale(saleId).remaining, 5);
    expect(await msUntilAdmitted(stack, saleId)).toBeLessThan(1000);
  });

  it('When an admin cancels a sale this node had cached as sold out, then the next attempt already says SALE_CANCELLED', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1 });
    expect((await attempt(stack, saleId, `p-${saleId}`)).status).toBe(202);
    expect((await attempt(stack, saleId, `q-${saleId}`)).body.error.code).toBe('SOLD_OUT'); // now cached here
    const cancelled = await call(stack.api.url, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: adminToken() });
    expect(cancelled.status).toBe(200);
    expect((await attempt(stack, saleId, `r-${saleId}`)).body.error.code).toBe('SALE_CANCELLED');
  });

  it('When a shopper retries with their Idempotency-Key on a sold-out sale, then they get their purchase, not SOLD_OUT', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1 });
    const token = shopperToken(`keyed-${saleId}`);
    const first = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: {}, headers: { 'idempotency-key': 'k' } });
    expect((await attempt(stack, saleId, `other-${saleId}`)).body.error.code).toBe('SOLD_OUT');
    const retry = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: {}, headers: { 'idempotency-key': 'k' } });
    expect(retry.status).toBe(200);
    expect(retry.body.purchaseId).toBe(first.body.purchaseId);
  });

  it('When the lane before Express refuses an attempt, then its reply is the one Express gives: status, body and headers', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1 });
    expect((await attempt(stack, saleId, `first-${saleId}`)).status).toBe(202);
    expect((await attempt(stack, saleId, `second-${saleId}`)).body.error.code).toBe('SOLD_OUT'); // now known sold out
    // Through Express: a keyed attempt always asks the gate, and gets its SOLD_OUT from the error handler.
    const viaExpress = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, {
      token: shopperToken(`keyed-${randomUUID()}`),
      body: { quantity: 1 },
      headers: { 'idempotency-key': randomUUID() },
    });
    // The lane: with the sale hidden from the gate, any answer but the lane's would be 503.
    const k = stack.api.deps.keys.sale(saleId);
    await stack.api.deps.redis.rename(k.meta, `${k.meta}:hidden`);
    const viaLane = await call(stack.api.url, 'POST', `/api/sales/${saleId.toUpperCase()}/purchases/`, {
      token: shopperToken(`lane-${randomUUID()}`),
      body: { quantity: 1 },
      headers: { 'x-request-id': 'trace-me-1' },
    }).finally(() => stack.api.deps.redis.rename(`${k.meta}:hidden`, k.meta));
    expect([viaLane.status, viaLane.body]).toEqual([viaExpress.status, viaExpress.body]);
    const comparable = (h: Headers) =>
      Object.fromEntries([...h.entries()].filter(([name]) => !['date', 'x-request-id', 'connection', 'keep-alive'].includes(name) && !name.startsWith('ratelimit')));
    expect(comparable(viaLane.headers)).toEqual(comparable(viaExpress.headers));
    expect(viaLane.headers.get('content-security-policy')).toBeTruthy(); // helmet's, not an empty set
    expect(viaLane.headers.get('x-request-id')).toBe('trace-me-1');
  });

  it('When a token is missing or forged on a sold-out sale, then Express answers 401 as it would anywhere', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 1, perUserLimit: 1 });
    expect((await attempt(stack, saleId, `first-${saleId}`)).status).toBe(202);
    expect((await attempt(stack, saleId, `second-${saleId}`)).body.error.code).toBe('SOLD_OUT');
    const noToken = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { body: { quantity: 1 } });
    const forged = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: `${shopperToken('x')}x`, body: { quantity: 1 } });
    expect([noToken.status, noToken.body.error.code, forged.status, forged.body.error.code]).toEqual([401, 'UNAUTHENTICATED', 401, 'UNAUTHENTICATED']);
  });
});
