import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { io as connect, Socket } from 'socket.io-client';
import { TEST_JWT_SECRET } from './env';
import { call, createSale, pool, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

type Update = { purchaseId: string; saleId: string; status: string; reason?: string; orderId?: string };

/** A real Socket.io client over websocket; resolves once connected (or rejects with the connect_error). */
function client(url: string, token: string | undefined, opts: { reconnection?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(url, {
      auth: token === undefined ? {} : { token },
      transports: ['websocket'],
      reconnection: opts.reconnection ?? false,
      // A fixed, unhurried reconnect: the decision lands while the client is away.
      reconnectionDelay: 1500,
      randomizationFactor: 0,
      forceNew: true,
    });
    s.once('connect', () => resolve(s));
    s.once('connect_error', (err) => {
      s.close();
      reject(err);
    });
  });
}

function collect<T>(s: Socket, event: string): T[] {
  const seen: T[] = [];
  s.on(event, (p: T) => seen.push(p));
  return seen;
}

const buy = (stack: Stack, saleId: string, token: string) =>
  call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });

describe('Socket.io', () => {
  let stack: Stack;
  const sockets: Socket[] = [];
  const open = async (token: string | undefined, opts?: { reconnection?: boolean }) => {
    const s = await client(stack.api.url, token, opts);
    sockets.push(s);
    return s;
  };
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    await stack?.stop();
  });

  it('When the handshake has no token, a forged one or an expired one, then the connection is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = jwt.sign({ sub: 'eve', exp: now + 60 }, 'not-the-secret-0123456789', { algorithm: 'HS256' });
    const expired = jwt.sign({ sub: 'eve', exp: now - 120 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
    for (const token of [undefined, 'garbage', forged, expired]) {
      await expect(open(token)).rejects.toThrow('UNAUTHENTICATED');
    }
  });

  it('When a connected socket\'s token runs out (exp plus the 30 s leeway), then the server closes it, and the same token cannot reconnect', async () => {
    // Expired 29 s ago: still inside the leeway at the handshake, out of it a second later.
    const token = jwt.sign({ sub: `late-${randomUUID()}`, exp: Math.floor(Date.now() / 1000) - 29 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
    const s = await open(token, { reconnection: false });
    const reason = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the socket was not closed within 5 s')), 5000);
      s.once('disconnect', (why) => {
        clearTimeout(timer);
        resolve(why);
      });
    });
    expect(reason).toBe('io server disconnect');
    await expect(open(token)).rejects.toThrow('UNAUTHENTICATED');
  });

  it('When a worker confirms a purchase, then its owner hears purchase:update after the commit, and nobody else does', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const alice = `alice-${randomUUID()}`;
    const mallory = `mallory-${randomUUID()}`;
    const aliceSocket = await open(shopperToken(alice));
    const aliceTab2 = await open(shopperToken(alice));
    const mallorySocket = await open(shopperToken(mallory));
    const heard = collect<Update>(aliceSocket, 'purchase:update');
    const heardTab2 = collect<Update>(aliceTab2, 'purchase:update');
    const malloryHeard = collect<Update>(mallorySocket, 'purchase:update');

    const r = await buy(stack, saleId, shopperToken(alice));
    expect(r.status).toBe(202);
    const [update] = await waitFor(async () => (heard.length ? heard : undefined), 'the purchase:update');
    expect(update).toEqual({
      purchaseId: r.body.purchaseId,
      saleId,
      quantity: 1,
      status: 'confirmed',
      orderId: expect.any(String),
      holdExpiresAt: expect.any(String),
      createdAt: r.body.createdAt,
    });
    // After the commit: the order is already in PostgreSQL when the push arrives.
    const order = await stack.api.deps.db('orders').where({ purchase_id: r.body.purchaseId }).first();
    expect(order?.id).toBe(update!.orderId);
    await waitFor(async () => (heardTab2.length ? true : undefined), 'the second tab to hear it too');
    expect(malloryHeard).toEqual([]);
  });

  it('When a purchase is rejected, then the owner hears that too, with its reason', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 2, perUserLimit: 1 });
    await stack.api.deps.db('sale_inventory').where({ sale_id: saleId }).update({ remaining: 0 });
    const bob = `bob-${randomUUID()}`;
    const s = await open(shopperToken(bob));
    const heard = collect<Update>(s, 'purchase:update');
    const r = await buy(stack, saleId, shopperToken(bob));
    const [update] = await waitFor(async () => (heard.length ? heard : undefined), 'the rejection');
    expect(update).toEqual({ purchaseId: r.body.purchaseId, saleId, quantity: 1, status: 'rejected', reason: 'SOLD_OUT', createdAt: r.body.createdAt });
  });

  it('When a client asks to watch a sale, then it gets stock and status at once; a bad id is refused', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 7, perUserLimit: 1 });
    const s = await open(shopperToken(`watcher-${randomUUID()}`));
    const stock = collect<{ saleId: string; remaining: number }>(s, 'sale:stock');
    const status = collect<{ saleId: string; status: string }>(s, 'sale:status');
    expect(await s.emitWithAck('sale:watch', { saleId })).toEqual({ ok: true });
    await waitFor(async () => (stock.length && status.length ? true : undefined), 'the first stock and status');
    expect(stock[0]).toEqual({ saleId, remaining: 7 });
    expect(status[0]).toEqual({ saleId, status: 'active' });
    expect(await s.emitWithAck('sale:watch', { saleId: 'nope' })).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
    expect(await s.emitWithAck('sale:watch', { saleId: randomUUID() })).toMatchObject({ ok: false, error: { code: 'SALE_NOT_FOUND' } });
  });

  it('When hundreds of purchases land in about a second, then watchers get at most 4 stock updates a second, then sold_out', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 300, perUserLimit: 1 });
    const s = await open(shopperToken(`counter-${randomUUID()}`));
    const stock: { at: number; remaining: number }[] = [];
    const status: string[] = [];
    s.on('sale:stock', (p: { remaining: number }) => stock.push({ at: Date.now(), remaining: p.remaining }));
    s.on('sale:status', (p: { status: string }) => status.push(p.status));
    await s.emitWithAck('sale:watch', { saleId });
    const started = Date.now();
    await pool(Array.from({ length: 400 }, (_, i) => () => buy(stack, saleId, shopperToken(`burst-${saleId}-${i}`))), 50);
    await waitFor(async () => (stock.at(-1)?.remaining === 0 ? true : undefined), 'the last stock update');
    const seconds = (stock.at(-1)!.at - started) / 1000;
    // The first update is the snapshot sent on watch; then at most one per 250 ms tick.
    expect(stock.length - 1).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 1);
    expect(stock.length).toBeLessThan(300 / 10);
    await waitFor(async () => (status.includes('sold_out') ? true : undefined), 'the sold_out status');
  });

  it('When a watched sale starts, ends or is cancelled, then watchers hear sale:status for each change', async () => {
    const now = Date.now();
    const { saleId } = await createSale(stack.api.url, {
      stock: 5,
      perUserLimit: 1,
      startsAt: new Date(now + 1200).toISOString(),
      endsAt: new Date(now + 2600).toISOString(),
    });
    const s = await open(shopperToken(`clock-${randomUUID()}`));
    const status: string[] = [];
    s.on('sale:status', (p: { saleId: string; status: string }) => p.saleId === saleId && status.push(p.status));
    await s.emitWithAck('sale:watch', { saleId });
    await waitFor(async () => (status.includes('ended') ? true : undefined), 'the sale to start and end', 10_000);
    expect(status).toEqual(['upcoming', 'active', 'ended']);

    // Cancellation as the gate records it (the admin cancel route comes with the lifecycle issue).
    const other = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const seen: string[] = [];
    s.on('sale:status', (p: { saleId: string; status: string }) => p.saleId === other.saleId && seen.push(p.status));
    await s.emitWithAck('sale:watch', { saleId: other.saleId });
    await stack.api.deps.redis.hset(stack.api.deps.keys.sale(other.saleId).meta, 'cancelled', 1);
    await waitFor(async () => (seen.includes('cancelled') ? true : undefined), 'the cancelled status');
    expect(seen).toEqual(['active', 'cancelled']);
  });

  it('When a client was disconnected while its purchase was decided, then re-fetching its purchases on reconnect tells it', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1 });
    const carol = `carol-${randomUUID()}`;
    const token = shopperToken(carol);
    const s = await open(token, { reconnection: true });
    const heard = collect<Update>(s, 'purchase:update');
    // What a client does on every (re)connect, as the README says: re-fetch its purchases.
    const refetched: { status: string; purchaseId: string }[][] = [];
    s.io.on('reconnect', async () => {
      const r = await call(stack.api.url, 'GET', '/api/me/purchases', { token });
      refetched.push(r.body.items);
    });
    s.io.engine.close(); // the transport drops, as on a flaky network
    const r = await buy(stack, saleId, token);
    await waitFor(async () => ((await call(stack.api.url, 'GET', r.body.statusUrl, { token })).body.status === 'confirmed' ? true : undefined), 'the decision');
    await waitFor(async () => (refetched.length ? true : undefined), 'the reconnect and re-fetch', 15_000);
    expect(heard.filter((u) => u.purchaseId === r.body.purchaseId)).toEqual([]); // the push was missed...
    expect(refetched[0]!.find((p) => p.purchaseId === r.body.purchaseId)?.status).toBe('confirmed'); // ...the re-fetch was not
  });
});
