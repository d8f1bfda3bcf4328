import { randomUUID } from 'node:crypto';
import { saleAuditSchema, saleStatsSchema } from '../src/http/response-schemas';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/**
 * Stats and audit over a sale's whole life: after decisions, payments, expiries and a
 * cancel, both say the same about what became of the purchases, and the decision latency
 * stays the 202 -> decision time (an expiry minutes later does not move it).
 */

type Blocks = { decided: unknown; holds: unknown; units: unknown; orders: unknown; remaining: { redis: number | null; postgres: number }; stock: number };

async function both(stack: Stack, saleId: string) {
  const stats = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
  const audit = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/audit`, { token: adminToken() });
  expect([stats.status, audit.status]).toEqual([200, 200]);
  expect(saleStatsSchema.safeParse(stats.body).success).toBe(true);
  expect(saleAuditSchema.safeParse(audit.body).success).toBe(true);
  return { stats: stats.body, audit: audit.body };
}

const blocks = (b: Blocks) => ({ decided: b.decided, holds: b.holds, units: b.units, orders: b.orders, remaining: b.remaining, stock: b.stock });

/** Waits until stats show `holds` as given, then checks the audit agrees field for field, and the units add up. */
async function agreeAt(stack: Stack, saleId: string, holds: { held: number; paid: number; expired: number; cancelled: number }) {
  const { stats, audit } = await waitFor(async () => {
    const now = await both(stack, saleId);
    return JSON.stringify(now.stats.holds) === JSON.stringify(holds) && now.stats.drift === 0 ? now : undefined;
  }, `holds ${JSON.stringify(holds)}`);
  expect(blocks(audit)).toEqual(blocks(stats));
  expect(stats.units.sold + stats.units.held + stats.remaining.postgres).toBe(stats.stock);
  expect(stats.holds.held + stats.holds.paid + stats.holds.expired + stats.holds.cancelled).toBe(stats.decided.confirmed);
  expect(stats.remaining.redis).toBe(stats.remaining.postgres);
  return { stats, audit };
}

describe('A sale over its whole life', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => stack?.stop());

  it('When purchases are confirmed, then paid, expired and cancelled, then stats and audit agree at every step and decision latency stays the decision time', async () => {
    // Holds of 3 s: long enough to pay or cancel two of them, short enough to watch one expire.
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1, holdSeconds: 3 });
    const shoppers = Array.from({ length: 3 }, () => shopperToken(`life-${randomUUID()}`));
    const bought = await Promise.all(shoppers.map((token) => call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token })));
    expect(bought.map((r) => r.status)).toEqual([202, 202, 202]);
    const [payer, canceller, sleeper] = bought.map((r, i) => ({ id: r.body.purchaseId as string, token: shoppers[i]! }));

    const confirmed = await agreeAt(stack, saleId, { held: 3, paid: 0, expired: 0, cancelled: 0 });
    expect(confirmed.stats.decided).toEqual({ confirmed: 3, rejected: 0, byReason: {} });
    expect(confirmed.stats.units).toEqual({ sold: 0, held: 3, returned: 0, rejected: 0 });
    expect(confirmed.stats.orders).toEqual({ count: 3, units: 3 });
    const latencyAtDecision = confirmed.audit.decisionLatencyMs;

    const paid = await call(stack.api.url, 'POST', `/api/purchases/${payer!.id}/pay`, { token: payer!.token, body: { paymentToken: 'tok_approve' } });
    const cancelled = await call(stack.api.url, 'POST', `/api/purchases/${canceller!.id}/cancel`, { token: canceller!.token });
    expect([paid.status, cancelled.status]).toEqual([200, 200]);
    const settled = await agreeAt(stack, saleId, { held: 1, paid: 1, expired: 0, cancelled: 1 });
    expect(settled.stats.units).toEqual({ sold: 1, held: 1, returned: 1, rejected: 0 });
    expect(settled.stats.orders).toEqual({ count: 2, units: 2 });
    expect(settled.stats.decided.confirmed).toBe(3);

    // The third shopper never pays: the hold ends, the unit comes back, the order is voided.
    const ended = await agreeAt(stack, saleId, { held: 0, paid: 1, expired: 1, cancelled: 1 });
    expect(ended.stats.units).toEqual({ sold: 1, held: 0, returned: 2, rejected: 0 });
    expect(ended.stats.orders).toEqual({ count: 1, units: 1 });
    expect(ended.stats.remaining).toEqual({ redis: 4, postgres: 4 });
    expect(ended.stats.decided.confirmed).toBe(3);
    // The expiry (>= 3 s after the decision) is not taken for the decision: latency is unchanged.
    expect(ended.audit.decisionLatencyMs).toEqual(latencyAtDecision);
    expect(ended.audit.decisionLatencyMs.max).toBeLessThan(2000);
    const sleeperView = await call(stack.api.url, 'GET', `/api/purchases/${sleeper!.id}`, { token: sleeper!.token });
    expect(sleeperView.body).toMatchObject({ status: 'expired', reason: 'HOLD_EXPIRED' });
  });

  it('When the audit is asked for finer buckets, then its timeline counts every decision in buckets of that size; a bad bucket is 400', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 4, perUserLimit: 1 });
    await Promise.all(Array.from({ length: 4 }, () => call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`t-${randomUUID()}`) })));
    await agreeAt(stack, saleId, { held: 4, paid: 0, expired: 0, cancelled: 0 });
    const fine = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/audit?bucketMs=100`, { token: adminToken() });
    expect(fine.body.timeline.bucketMs).toBe(100);
    const points = fine.body.timeline.points as { atMs: number; confirmed: number; rejected: number }[];
    expect(points.reduce((n, p) => n + p.confirmed + p.rejected, 0)).toBe(4);
    for (const p of points) expect(p.atMs % 100).toBe(0);
    for (const bad of ['0', '5', '60001', 'abc']) {
      const r = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/audit?bucketMs=${bad}`, { token: adminToken() });
      expect([r.status, r.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  it('When a sale is unlisted, then the public list leaves it out, its page still answers, and listing it again brings it back', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    const inList = async () => ((await call(stack.api.url, 'GET', '/api/sales?limit=100')).body.items as { id: string }[]).some((s) => s.id === saleId);
    expect(await inList()).toBe(true);
    const hidden = await call(stack.api.url, 'PATCH', `/api/admin/sales/${saleId}`, { token: adminToken(), body: { listed: false } });
    expect([hidden.status, hidden.body.listed]).toEqual([200, false]);
    expect(await inList()).toBe(false);
    expect((await call(stack.api.url, 'GET', `/api/sales/${saleId}`)).body).toMatchObject({ id: saleId, listed: false });
    const admin = await call(stack.api.url, 'GET', '/api/admin/sales?limit=100', { token: adminToken() });
    expect((admin.body.items as { id: string }[]).some((s) => s.id === saleId)).toBe(true);
    // Unlisted sales sell like any other.
    expect((await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`u-${randomUUID()}`) })).status).toBe(202);
    await call(stack.api.url, 'PATCH', `/api/admin/sales/${saleId}`, { token: adminToken(), body: { listed: true } });
    expect(await inList()).toBe(true);
    const bad = await call(stack.api.url, 'PATCH', `/api/admin/sales/${saleId}`, { token: adminToken(), body: { listed: 'no' } });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
  });
});
