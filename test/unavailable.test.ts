import net from 'node:net';
import { Redis } from 'ioredis';
import { createDb, isDatabaseUnavailable } from '../src/lib/db';
import { createApiRedis, isRedisUnavailable } from '../src/lib/redis';
import { TEST_DATABASE_URL } from './env';
import { startThrowawayRedis, ThrowawayRedis } from './helpers';

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
  let redis: ThrowawayRedis;
  const clients: Redis[] = [];
  beforeAll(async () => {
    redis = await startThrowawayRedis();
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
    await redis?.stop();
  });
  const client = (c: Redis) => (clients.push(c), c);

  it('When the API client has no connection, then its fail-fast error counts as unavailable', async () => {
    const c = client(createApiRedis(`redis://127.0.0.1:${await closedPort()}`, 'probe'));
    c.on('error', () => undefined);
    c.connect().catch(() => undefined);
    expect(isRedisUnavailable(await failure(c.get('x')))).toBe(true);
  });

  it('When Redis answers later than the command timeout, then the timeout counts as unavailable', async () => {
    const c = client(createApiRedis(redis.url, 'probe', { commandTimeoutMs: 100 }));
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
