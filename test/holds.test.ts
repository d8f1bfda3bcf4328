import { randomUUID } from 'node:crypto';
import { io as connect, Socket } from 'socket.io-client';
import { Queue } from 'bullmq';
import { createHoldQueue, expireHold, HoldJobData, scheduleHoldExpiries } from '../src/modules/purchases/holds/holds';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

const buy = (stack: Stack, saleId: string, token: string) =>
  call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });
const pay = (stack: Stack, purchaseId: string, token: string, paymentToken: string) =>
  call(stack.api.url, 'POST', `/api/purchases/${purchaseId}/pay`, { token, body: { paymentToken } });

/** A sale whose holds last `holdSeconds` (set through the admin API, as admins do). */
const saleWithHold = (stack: Stack, stock: number, holdSeconds: number) => createSale(stack.api.url, { stock, perUserLimit: 1, holdSeconds });

async function confirmed(stack: Stack, statusUrl: string, token: string) {
  return waitFor(async () => {
    const r = await call(stack.api.url, 'GET', statusUrl, { token });
    return r.body.status === 'confirmed' ? r.body : undefined;
  }, 'confirmation');
}

async function ledger(stack: Stack, saleId: string) {
  const stats = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
  return { sold: stats.body.units.sold, held: stats.body.units.held, pg: stats.body.remaining.postgres, redis: stats.body.remaining.redis, stock: stats.body.stock };
}

describe('Holds and payment', () => {
  let stack: Stack;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    stack = await startStack(testConfig({ PAYMENT_TIMEOUT_MS: '300' }));
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await stack?.stop();
  });

  it('When a confirmed purchase is paid, then it is paid, its units move from held to sold, and paying again changes nothing', async () => {
    const { saleId } = await saleWithHold(stack, 3, 600);
    const token = shopperToken(`payer-${randomUUID()}`);
    const p = await buy(stack, saleId, token);
    const view = await confirmed(stack, p.body.statusUrl, token);
    expect(Date.parse(view.holdExpiresAt)).toBeGreaterThan(Date.now() + 500_000);
    expect(await ledger(stack, saleId)).toMatchObject({ sold: 0, held: 1, pg: 2, redis: 2 });

    const paid = await pay(stack, p.body.purchaseId, token, 'tok_approve');
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ purchaseId: p.body.purchaseId, status: 'paid', orderId: view.orderId });
    expect(paid.body.holdExpiresAt).toBeUndefined();
    const again = await pay(stack, p.body.purchaseId, token, 'tok_approve');
    expect(again.status).toBe(200);
    expect(again.body).toEqual(paid.body);
    expect((await call(stack.api.url, 'GET', p.body.statusUrl, { token })).body.status).toBe('paid');
    expect(await ledger(stack, saleId)).toMatchObject({ sold: 1, held: 0, pg: 2, redis: 2 });
  });

  it('When the provider declines or times out, then 402 / 504 and the purchase stays payable', async () => {
    const { saleId } = await saleWithHold(stack, 3, 600);
    const token = shopperToken(`decline-${randomUUID()}`);
    const p = await buy(stack, saleId, token);
    await confirmed(stack, p.body.statusUrl, token);
    const declined = await pay(stack, p.body.purchaseId, token, 'tok_decline');
    expect(declined.status).toBe(402);
    expect(declined.body.error.code).toBe('PAYMENT_DECLINED');
    const timedOut = await pay(stack, p.body.purchaseId, token, 'tok_timeout');
    expect(timedOut.status).toBe(504);
    expect(timedOut.body.error.code).toBe('PAYMENT_TIMEOUT');
    expect((await call(stack.api.url, 'GET', p.body.statusUrl, { token })).body.status).toBe('confirmed');
    expect((await pay(stack, p.body.purchaseId, token, 'tok_approve')).body.status).toBe('paid');
  });

  it('When someone else pays for or reads your purchase, then 404; bad bodies get 400', async () => {
    const { saleId } = await saleWithHold(stack, 3, 600);
    const token = shopperToken(`owner-${randomUUID()}`);
    const thief = shopperToken(`thief-${randomUUID()}`);
    const p = await buy(stack, saleId, token);
    await confirmed(stack, p.body.statusUrl, token);
    const stolen = await pay(stack, p.body.purchaseId, thief, 'tok_approve');
    expect(stolen.status).toBe(404);
    expect(stolen.body.error.code).toBe('PURCHASE_NOT_FOUND');
    expect((await call(stack.api.url, 'GET', p.body.statusUrl, { token: thief })).status).toBe(404);
    for (const body of [{}, { paymentToken: 5 }, { paymentToken: 'tok_approve', amount: 1 }]) {
      const r = await call(stack.api.url, 'POST', `/api/purchases/${p.body.purchaseId}/pay`, { token, body });
      expect([r.status, r.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect((await pay(stack, randomUUID(), token, 'tok_approve')).status).toBe(404);
    expect((await call(stack.api.url, 'GET', p.body.statusUrl, { token })).body.status).toBe('confirmed');
  });

  it('When a hold ends unpaid, then the purchase expires, its unit goes back exactly once, the owner hears it, the next shopper buys it, and a late payment is refused', async () => {
    const { saleId } = await saleWithHold(stack, 1, 1);
    const owner = `late-${randomUUID()}`;
    const token = shopperToken(owner);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect(stack.api.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(s);
      s.once('connect', () => resolve(s));
      s.once('connect_error', reject);
    });
    const heard: { status: string; reason?: string }[] = [];
    socket.on('purchase:update', (u: { status: string; reason?: string }) => heard.push(u));

    const p = await buy(stack, saleId, token);
    await confirmed(stack, p.body.statusUrl, token);
    const other = shopperToken(`next-${randomUUID()}`);
    expect((await buy(stack, saleId, other)).body.error.code).toBe('SOLD_OUT');

    // The delayed job ends the hold after ~1 s.
    const expired = await waitFor(async () => {
      const r = await call(stack.api.url, 'GET', p.body.statusUrl, { token });
      return r.body.status === 'expired' ? r.body : undefined;
    }, 'the hold to expire', 15_000);
    expect(expired.reason).toBe('HOLD_EXPIRED');
    await waitFor(async () => (heard.some((u) => u.status === 'expired') ? true : undefined), 'the expired push');
    expect(await ledger(stack, saleId)).toMatchObject({ sold: 0, held: 0, pg: 1, redis: 1, stock: 1 });

    // Delivered again: nothing changes (exactly once).
    expect(await expireHold({ ...stack.api.deps }, { purchaseId: p.body.purchaseId, saleId, userId: owner, quantity: 1, admittedAt: Date.now() })).toBe('settled');
    expect(await ledger(stack, saleId)).toMatchObject({ pg: 1, redis: 1 });

    const late = await pay(stack, p.body.purchaseId, token, 'tok_approve');
    expect([late.status, late.body.error.code]).toEqual([409, 'PURCHASE_EXPIRED']);

    // The unit is on sale again: the next shopper gets it (within the sold-out cache's 500 ms).
    const resold = await waitFor(async () => {
      const r = await buy(stack, saleId, shopperToken(`next-${randomUUID()}`));
      return r.status === 202 ? r : undefined;
    }, 'the unit to be sold again', 5000, 50);
    expect(resold.status).toBe(202);
    await waitFor(async () => {
      const l = await ledger(stack, saleId);
      return l.held === 1 && l.pg === 0 && l.redis === 0 ? l : undefined;
    }, 'the resale to be confirmed');
    const l = await ledger(stack, saleId);
    expect(l.sold + l.held + l.pg).toBe(l.stock);
  });
});

describe('Hold expiry jobs', () => {
  let stack: Stack;
  let queue: Queue<HoldJobData>;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
    queue = createHoldQueue(stack.api.deps.redis, { purchaseQueueName: `holds-unit-${randomUUID()}`, prefix: stack.api.deps.keys.bullPrefix });
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true });
    await queue?.close();
    await stack?.stop();
  });

  it('When a batch is confirmed, then its holds share one delayed job per sale and expiry second, due at the end of that second, and scheduling the same batch again adds nothing', async () => {
    const saleA = randomUUID();
    const saleB = randomUUID();
    const second = Math.ceil(Date.now() / 1000) * 1000 + 60_000; // a whole second a minute ahead
    const hold = (saleId: string, atMs: number) => ({
      job: { purchaseId: randomUUID(), saleId, userId: `u-${randomUUID()}`, quantity: 1, admittedAt: Date.now() },
      holdExpiresAt: new Date(atMs),
    });
    const batch = [hold(saleA, second + 10), hold(saleA, second + 990), hold(saleA, second + 400), hold(saleA, second + 1500), hold(saleB, second + 20)];

    await scheduleHoldExpiries(queue, batch);
    await scheduleHoldExpiries(queue, batch);

    const jobs = await queue.getDelayed();
    const shapes = jobs.map((j) => ({ saleId: j.data.saleId, n: j.data.holds.length, dueMs: j.timestamp + j.delay })).sort((a, b) => a.dueMs - b.dueMs || b.n - a.n);
    expect(shapes).toEqual([
      { saleId: saleA, n: 3, dueMs: second + 1000 },
      { saleId: saleB, n: 1, dueMs: second + 1000 },
      { saleId: saleA, n: 1, dueMs: second + 2000 },
    ]);
    // Never early: every hold's job is due at or after the hold's end.
    for (const j of jobs) for (const h of j.data.holds) {
      const end = batch.find((b) => b.job.purchaseId === h.purchaseId)!.holdExpiresAt.getTime();
      expect(j.timestamp + j.delay).toBeGreaterThanOrEqual(end);
    }
  });
});

describe('Paying before the worker decided', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => stack?.stop());

  it('When a purchase is still queued, then paying it is 409 PURCHASE_NOT_CONFIRMED and nothing changes', async () => {
    const { saleId } = await saleWithHold(stack, 2, 600);
    const token = shopperToken(`early-${randomUUID()}`);
    const p = await buy(stack, saleId, token);
    expect(p.status).toBe(202);
    const early = await pay(stack, p.body.purchaseId, token, 'tok_approve');
    expect([early.status, early.body.error.code]).toEqual([409, 'PURCHASE_NOT_CONFIRMED']);
    expect((await call(stack.api.url, 'GET', p.body.statusUrl, { token })).body.status).toBe('queued');
  });
});
