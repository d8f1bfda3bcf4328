import { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { io as connect, Socket } from 'socket.io-client';
import { testEnv } from './env';
import { call, createSale, killed, shopperToken, spawnApi, spawnWorker, waitFor } from './helpers';

type Update = { purchaseId: string; status: string };

/** Two API processes and a worker process, sharing PostgreSQL and Redis, as in production behind nginx. */
describe('When two API nodes and a separate worker serve one sale', () => {
  const env = testEnv({ QUEUE_NAME: `multi-${randomUUID().slice(0, 8)}` });
  const children: ChildProcess[] = [];
  const sockets: Socket[] = [];
  let nodeA: string;
  let nodeB: string;

  beforeAll(async () => {
    const [a, b] = await Promise.all([spawnApi(env), spawnApi(env)]);
    children.push(a.child, b.child);
    nodeA = a.url;
    nodeB = b.url;
    children.push(await spawnWorker(env));
  });
  afterAll(async () => {
    sockets.forEach((s) => s.close());
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map(killed));
  });

  const listen = (url: string, token: string) =>
    new Promise<{ socket: Socket; heard: Update[] }>((resolve, reject) => {
      const socket = connect(url, { auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true });
      sockets.push(socket);
      const heard: Update[] = [];
      socket.on('purchase:update', (u: Update) => heard.push(u));
      socket.once('connect', () => resolve({ socket, heard }));
      socket.once('connect_error', reject);
    });

  it('then each client, on its own node, hears its own purchases and only its own', async () => {
    expect(nodeA).not.toBe(nodeB);
    const { saleId } = await createSale(nodeA, { stock: 10, perUserLimit: 1 });
    const alice = `alice-${randomUUID()}`;
    const bob = `bob-${randomUUID()}`;
    const onA = await listen(nodeA, shopperToken(alice));
    const onB = await listen(nodeB, shopperToken(bob));

    // Each buys through the OTHER node: the push must still find its owner's socket.
    const aliceBuy = await call(nodeB, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(alice), body: { quantity: 1 } });
    const bobBuy = await call(nodeA, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(bob), body: { quantity: 1 } });
    expect([aliceBuy.status, bobBuy.status]).toEqual([202, 202]);

    await waitFor(async () => (onA.heard.length && onB.heard.length ? true : undefined), 'both pushes');
    // Let any stray cross-delivery arrive before judging: wait until both purchases are final via HTTP too.
    await waitFor(async () => {
      const r = await call(nodeA, 'GET', `/api/me/purchases`, { token: shopperToken(bob) });
      return r.body.items.every((p: { status: string }) => p.status === 'confirmed') ? true : undefined;
    }, 'bob confirmed');
    expect(onA.heard.map((u) => [u.purchaseId, u.status])).toEqual([[aliceBuy.body.purchaseId, 'confirmed']]);
    expect(onB.heard.map((u) => [u.purchaseId, u.status])).toEqual([[bobBuy.body.purchaseId, 'confirmed']]);
  });
});
