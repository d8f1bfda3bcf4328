import { randomUUID } from 'node:crypto';
import { io as connect, Socket } from 'socket.io-client';
import { purchaseSchema } from '../src/http/response-schemas';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/**
 * Every read of a purchase says the same thing: the attempt's reply (202, or 200 for a
 * keyed retry), GET by id, the shopper's list and the socket push carry the same fields
 * for the same state, and exactly the fields that state has.
 */

type View = Record<string, unknown> & { purchaseId: string; status: string };

/** The fields each state carries, no more, no less. */
const FIELDS: Record<string, string[]> = {
  queued: ['createdAt', 'purchaseId', 'quantity', 'saleId', 'status'],
  confirmed: ['createdAt', 'holdExpiresAt', 'orderId', 'purchaseId', 'quantity', 'saleId', 'status'],
  paid: ['createdAt', 'orderId', 'paidAt', 'purchaseId', 'quantity', 'saleId', 'status'],
  rejected: ['createdAt', 'purchaseId', 'quantity', 'reason', 'saleId', 'status'],
  expired: ['createdAt', 'holdEndedAt', 'purchaseId', 'quantity', 'reason', 'saleId', 'status'],
  cancelled: ['createdAt', 'holdEndedAt', 'purchaseId', 'quantity', 'reason', 'saleId', 'status'],
};

type Shopper = { token: string; pushes: View[]; socket: Socket };

async function shopper(stack: Stack, sockets: Socket[]): Promise<Shopper> {
  const token = shopperToken(`views-${randomUUID()}`);
  const socket = await new Promise<Socket>((resolve, reject) => {
    const s = connect(stack.api.url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(s);
    s.once('connect', () => resolve(s));
    s.once('connect_error', reject);
  });
  const pushes: View[] = [];
  socket.on('purchase:update', (u: View) => pushes.push(u));
  return { token, pushes, socket };
}

/** Buys one unit under an Idempotency-Key; returns the 202 body and how to retry it. */
async function buy(stack: Stack, who: Shopper, saleId: string) {
  const key = `k-${randomUUID()}`;
  const attempt = () => call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token: who.token, body: { quantity: 1 }, headers: { 'idempotency-key': key } });
  const first = await attempt();
  expect(first.status).toBe(202);
  return { first: first.body as View & { statusUrl: string }, retry: attempt };
}

const withoutUrl = ({ statusUrl: _url, ...view }: Record<string, unknown>) => view;

/** Reads the purchase every way a shopper can, once GET shows `status`; all must agree. */
async function everyView(stack: Stack, who: Shopper, purchaseId: string, status: string, opts: { socket: boolean } = { socket: true }) {
  const get = await waitFor(async () => {
    const r = await call(stack.api.url, 'GET', `/api/purchases/${purchaseId}`, { token: who.token });
    return r.body.status === status ? (r.body as View) : undefined;
  }, `the purchase to be ${status}`, 20_000);
  const list = await call(stack.api.url, 'GET', '/api/me/purchases', { token: who.token });
  const listed = (list.body.items as View[]).find((p) => p.purchaseId === purchaseId);
  const pushed = opts.socket
    ? await waitFor(async () => who.pushes.find((u) => u.purchaseId === purchaseId && u.status === status), `the ${status} push`, 10_000)
    : undefined;
  return { get, listed, pushed };
}

function expectSame(status: string, views: Record<string, unknown>) {
  const [first, ...rest] = Object.entries(views);
  expect(Object.keys(first![1] as object).sort()).toEqual(FIELDS[status]);
  expect(purchaseSchema.safeParse(first![1]).success).toBe(true);
  for (const [source, view] of rest) expect({ source, view }).toEqual({ source, view: first![1] });
}

describe('Purchase views agree', () => {
  let stack: Stack;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await stack?.stop();
  });

  it('When a purchase is confirmed, then paid, then the keyed retry, GET, the list and the push carry the same fields at each step', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const who = await shopper(stack, sockets);
    const { first, retry } = await buy(stack, who, saleId);

    const confirmed = await everyView(stack, who, first.purchaseId, 'confirmed');
    const retried = await retry();
    expect(retried.status).toBe(200);
    expect(retried.body.statusUrl).toBe(first.statusUrl);
    expectSame('confirmed', { get: confirmed.get, list: confirmed.listed, push: confirmed.pushed, keyedRetry: withoutUrl(retried.body) });
    expect(withoutUrl(first)).toEqual({ ...FIELDS.queued!.reduce((o, f) => ({ ...o, [f]: confirmed.get[f] }), {}), status: 'queued' });

    const paid = await call(stack.api.url, 'POST', `/api/purchases/${first.purchaseId}/pay`, { token: who.token, body: { paymentToken: 'tok_approve' } });
    expect(paid.status).toBe(200);
    const after = await everyView(stack, who, first.purchaseId, 'paid');
    expectSame('paid', { pay: paid.body, get: after.get, list: after.listed, push: after.pushed, keyedRetry: withoutUrl((await retry()).body) });
    expect(after.get.orderId).toBe(confirmed.get.orderId);
  });

  it('When a hold is cancelled or expires, then every view says so with the reason and when the hold ended', async () => {
    // The cancel on a sale whose holds last 10 minutes (it always wins); the expiry on one of 1 s.
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    const short = await createSale(stack.api.url, { stock: 2, perUserLimit: 1, holdSeconds: 1 });
    const canceller = await shopper(stack, sockets);
    const c = await buy(stack, canceller, saleId);
    const expirer = await shopper(stack, sockets);
    const e = await buy(stack, expirer, short.saleId);
    await everyView(stack, canceller, c.first.purchaseId, 'confirmed');

    const cancelled = await call(stack.api.url, 'POST', `/api/purchases/${c.first.purchaseId}/cancel`, { token: canceller.token });
    expect(cancelled.status).toBe(200);
    const views = await everyView(stack, canceller, c.first.purchaseId, 'cancelled');
    expectSame('cancelled', { cancel: cancelled.body, get: views.get, list: views.listed, push: views.pushed, keyedRetry: withoutUrl((await c.retry()).body) });
    expect(views.get.reason).toBe('CANCELLED_BY_SHOPPER');

    const expired = await everyView(stack, expirer, e.first.purchaseId, 'expired');
    expectSame('expired', { get: expired.get, list: expired.listed, push: expired.pushed, keyedRetry: withoutUrl((await e.retry()).body) });
    expect(expired.get.reason).toBe('HOLD_EXPIRED');
    expect(Date.parse(expired.get.holdEndedAt as string)).toBeGreaterThanOrEqual(Date.parse(expired.get.createdAt as string) + 1000);
  });

  it('When a purchase is rejected by the worker, then every view carries its reason', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    // PostgreSQL has no units left while the gate still has some: the worker rejects SOLD_OUT.
    await stack.api.deps.db('sale_inventory').where({ sale_id: saleId }).update({ remaining: 0 });
    const who = await shopper(stack, sockets);
    const { first, retry } = await buy(stack, who, saleId);
    const views = await everyView(stack, who, first.purchaseId, 'rejected');
    expectSame('rejected', { get: views.get, list: views.listed, push: views.pushed, keyedRetry: withoutUrl((await retry()).body) });
    expect(views.get.reason).toBe('SOLD_OUT');
  });

  it('When cancelling is not possible, then 409 with the reason and nothing changes; a cancelled purchase cancels again unchanged', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const who = await shopper(stack, sockets);
    const { first } = await buy(stack, who, saleId);
    await everyView(stack, who, first.purchaseId, 'confirmed', { socket: false });
    const other = shopperToken(`other-${randomUUID()}`);
    expect((await call(stack.api.url, 'POST', `/api/purchases/${first.purchaseId}/cancel`, { token: other })).status).toBe(404);
    expect((await call(stack.api.url, 'POST', `/api/purchases/${first.purchaseId}/cancel`, { token: who.token, body: { why: 'x' } })).status).toBe(400);

    const once = await call(stack.api.url, 'POST', `/api/purchases/${first.purchaseId}/cancel`, { token: who.token });
    const twice = await call(stack.api.url, 'POST', `/api/purchases/${first.purchaseId}/cancel`, { token: who.token });
    expect([once.status, twice.status]).toEqual([200, 200]);
    expect(twice.body).toEqual(once.body);
    const stats = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() });
    expect(stats.body.remaining).toEqual({ redis: 3, postgres: 3 });

    const payLate = await call(stack.api.url, 'POST', `/api/purchases/${first.purchaseId}/pay`, { token: who.token, body: { paymentToken: 'tok_approve' } });
    expect([payLate.status, payLate.body.error.code]).toEqual([409, 'PURCHASE_NOT_PAYABLE']);

    const paidOne = await buy(stack, who, saleId);
    await everyView(stack, who, paidOne.first.purchaseId, 'confirmed', { socket: false });
    await call(stack.api.url, 'POST', `/api/purchases/${paidOne.first.purchaseId}/pay`, { token: who.token, body: { paymentToken: 'tok_approve' } });
    const cancelPaid = await call(stack.api.url, 'POST', `/api/purchases/${paidOne.first.purchaseId}/cancel`, { token: who.token });
    expect([cancelPaid.status, cancelPaid.body.error.code]).toEqual([409, 'PURCHASE_NOT_CANCELLABLE']);
  });
});

describe('Purchase views agree while queued', () => {
  let stack: Stack;
  beforeAll(async () => {
    // No worker: purchases stay queued.
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => stack?.stop());

  it('When a purchase is still queued, then the 202, the keyed retry, GET and the list agree, and cancelling it is 409 PURCHASE_NOT_CONFIRMED', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const token = shopperToken(`queued-${randomUUID()}`);
    const who = { token, pushes: [], socket: undefined as unknown as Socket };
    const { first, retry } = await buy(stack, who, saleId);
    const views = await everyView(stack, who, first.purchaseId, 'queued', { socket: false });
    const retried = await retry();
    expect(retried.status).toBe(200);
    expectSame('queued', { reply: withoutUrl(first), get: views.get, list: views.listed, keyedRetry: withoutUrl(retried.body) });
    const cancel = await call(stack.api.url, 'POST', `/api/purchases/${first.purchaseId}/cancel`, { token });
    expect([cancel.status, cancel.body.error.code]).toEqual([409, 'PURCHASE_NOT_CONFIRMED']);
  });
});
