import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import { createDb, isDatabaseUnavailable } from '../src/lib/db';
import { createApiRedis, isRedisUnavailable, RedisClient } from '../src/lib/redis';
import { TEST_DATABASE_URL } from './env';
import { PrivateRedis, startPrivateRedis } from './faults/private-redis';
import { adminToken, call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/** The error a promise rejects with (fails the test if it resolves). */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Which real errors mean "the store cannot take this now" (the request gets 503 and
 * Retry-After) and which are bugs (500): errors produced by real clients and servers.
 */
describe('Telling an unavailable store from a bug', () => {
  let redis: PrivateRedis;
  const clients: RedisClient[] = [];
  beforeAll(async () => {
    redis = await startPrivateRedis({ label: 'unavailable-errors' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await redis?.destroy();
  });
  const client = (c: RedisClient) => (clients.push(c), c);

  it('When the API client has no connection, then its fail-fast error counts as unavailable', async () => {
    const c = client(createApiRedis({ url: `redis://127.0.0.1:${await closedPort()}` }, 'probe'));
    c.on('error', () => undefined);
    c.connect().catch(() => undefined);
    expect(isRedisUnavailable(await failure(c.get('x')))).toBe(true);
  });

  it('When Redis answers later than the command timeout, then the timeout counts as unavailable', async () => {
    const c = client(createApiRedis({ url: redis.url }, 'probe', { commandTimeoutMs: 100 }));
    await c.connect();
    // A script that keeps Redis busy for 400 ms: the reply comes long after the timeout.
    const busy = `local t = redis.call('TIME') local t0 = t[1] * 1e6 + t[2]
      repeat t = redis.call('TIME') until t[1] * 1e6 + t[2] - t0 > 400000 return 1`;
    expect(isRedisUnavailable(await failure(c.eval(busy, 0)))).toBe(true);
  });

  it('When Redis is at maxmemory with noeviction, then its OOM reply counts as unavailable, and a wrong-type reply does not', async () => {
    const admin = client(new Redis(redis.url));
    await admin.set('a-string', 'v');
    const wrongType = await failure(admin.hget('a-string', 'f'));
    expect(isRedisUnavailable(wrongType)).toBe(false);
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      const oom = await failure(admin.set('another', 'v'));
      expect((oom as Error).message).toMatch(/^OOM/);
      expect(isRedisUnavailable(oom)).toBe(true);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
  });

  it('When PostgreSQL refuses the connection, then that counts as unavailable, and a bad query does not', async () => {
    const down = createDb(`postgres://postgres@127.0.0.1:${await closedPort()}/x`, 1);
    const up = createDb(TEST_DATABASE_URL, 1);
    try {
      expect(isDatabaseUnavailable(await failure(down.raw('SELECT 1')))).toBe(true);
      expect(isDatabaseUnavailable(await failure(up.raw('SELEC 1')))).toBe(false);
      expect(isDatabaseUnavailable(await failure(up.raw('SELECT 1/0')))).toBe(false);
    } finally {
      await Promise.all([down.destroy(), up.destroy()]);
    }
  });

  it('When an error is a plain bug, then neither store counts it as unavailable', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'x')");
    expect(isRedisUnavailable(bug)).toBe(false);
    expect(isDatabaseUnavailable(bug)).toBe(false);
    expect(isRedisUnavailable(undefined)).toBe(false);
  });
});

/**
 * Every kind of route with its Redis stopped: a 503 in the envelope with Retry-After,
 * answered at once, readiness down and liveness up; and back without a restart.
 */
describe('When the API\'s Redis is stopped and started again', () => {
  let redis: PrivateRedis | undefined;
  let stack: Stack | undefined;
  beforeAll(async () => {
    redis = await startPrivateRedis({ aof: true, label: 'unavailable-routes' });
    stack = await startStack(testConfig({ REDIS_URL: redis.url, REDIS_PREFIX: `fsun${randomUUID().slice(0, 8)}` }), { worker: false });
  }, 30_000);
  afterAll(async () => {
    await stack?.stop();
    await redis?.destroy();
  });

  it('then attempts, reads, admin routes and payment answer 503 REDIS_UNAVAILABLE with Retry-After within a second, readiness is 503, liveness 200, and service resumes on its own', async () => {
    const base = stack!.api.url;
    const { saleId } = await createSale(base, { stock: 5, perUserLimit: 1 });
    const shopper = shopperToken(`unavail-${randomUUID()}`);
    const admitted = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: shopper, body: { quantity: 1 } });
    expect(admitted.status).toBe(202);

    await redis!.stop();
    const routes: [string, string, { token?: string; body?: unknown }][] = [
      ['POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`unavail-2-${randomUUID()}`), body: { quantity: 1 } }],
      ['GET', `/api/sales/${saleId}`, {}],
      ['GET', '/api/sales', {}],
      ['GET', `/api/purchases/${admitted.body.purchaseId}`, { token: shopper }],
      ['GET', '/api/me/purchases', { token: shopper }],
      ['POST', `/api/purchases/${admitted.body.purchaseId}/pay`, { token: shopper, body: { paymentToken: 'tok_approve' } }],
      ['GET', `/api/admin/sales/${saleId}/stats`, { token: adminToken() }],
      ['GET', '/api/admin/sales', { token: adminToken() }],
    ];
    for (const [method, path, opts] of routes) {
      const started = Date.now();
      const r = await call(base, method, path, opts);
      expect({ route: `${method} ${path}`, status: r.status, code: r.body?.error?.code }).toEqual({ route: `${method} ${path}`, status: 503, code: 'REDIS_UNAVAILABLE' });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(JSON.stringify(r.body)).not.toMatch(/stack|at .*\.ts/);
      expect(Date.now() - started).toBeLessThan(1000);
    }
    expect((await call(base, 'GET', '/api/health/ready')).status).toBe(503);
    expect((await call(base, 'GET', '/api/health/live')).status).toBe(200);

    await redis!.start();
    const back = Date.now();
    const again = await waitFor(async () => {
      const r = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(`unavail-3-${randomUUID()}`), body: { quantity: 1 } });
      return r.status === 202 ? r : undefined;
    }, 'an attempt admitted after Redis came back', 5000, 20);
    expect(again.status).toBe(202);
    expect(Date.now() - back).toBeLessThan(2000);
    expect((await call(base, 'GET', '/api/health/ready')).status).toBe(200);
  });
});
