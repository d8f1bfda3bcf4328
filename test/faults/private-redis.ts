import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '../helpers';
import { exited, hasExited, stopProcess, track } from './processes';
import { freePort } from '../../scripts/stack';

/**
 * A redis-server of the test's own, on a free loopback port and a temporary directory,
 * that can be killed (SIGKILL or SIGTERM) and started again on the SAME port and directory
 * (so its AOF is replayed and clients reconnect to the same URL). Never the shared Redis.
 */
export type PrivateRedis = {
  port: number;
  url: string;
  dir: string;
  /** PID of the running server, undefined while it is down. */
  pid: () => number | undefined;
  /** kill -9: no shutdown, no last fsync beyond what `appendfsync` already did. */
  kill9: () => Promise<void>;
  /** SIGTERM: Redis's own graceful shutdown (with AOF on it flushes and exits). */
  stop: () => Promise<void>;
  /** Starts the server again with the same arguments; resolves once it answers PING (AOF loaded). */
  start: () => Promise<void>;
  /** A plain client straight to the server (reconnects after restarts); closed by destroy(). */
  admin: () => Redis;
  /** Stops the server by PID and removes its directory. */
  destroy: () => Promise<void>;
};

/** The one free-port finder (scripts/stack.ts), re-exported for the fault rigs. */
export { freePort };

/**
 * Resolves once a fresh connection gets PONG (not LOADING) from the server. With `pid`, only
 * from that process: if another server already held the port (the OS handed it out again
 * before ours bound it), this never resolves, so a test cannot break a Redis it did not start.
 */
export async function waitForPong(url: string, timeoutMs = 10_000, pid?: number): Promise<void> {
  await waitFor(
    async () => {
      // No reconnect timer left behind while the server is not up yet.
      const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        if ((await probe.ping()) !== 'PONG') return undefined;
        if (pid === undefined) return true;
        const server = (await probe.info('server')) as string;
        return new RegExp(`^process_id:${pid}\\r?$`, 'm').test(server) ? true : undefined;
      } finally {
        probe.disconnect();
      }
    },
    `redis-server at ${url} (pid ${pid ?? 'any'}) to answer PING`,
    timeoutMs,
    25,
  );
}

/**
 * @param opts.aof `--appendonly yes --appendfsync always` (every acknowledged write is on disk).
 * @param opts.args more redis-server arguments.
 */
export async function startPrivateRedis(opts: { aof?: boolean; args?: string[]; label?: string } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-fault-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  const label = opts.label ?? 'redis-server';
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--daemonize', 'no',
    '--logfile', path.join(dir, 'redis.log'),
    '--maxmemory-policy', 'noeviction',
    ...(opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(opts.args ?? []),
  ];
  let child: ChildProcess | undefined;
  let adminClient: Redis | undefined;

  const start = async () => {
    if (child && !hasExited(child)) throw new Error(`${label} is already running (pid ${child.pid})`);
    child = track(spawn('redis-server', args, { stdio: 'ignore' }), `${label}:${port}`);
    const started = child;
    const died = exited(started).then(() => {
      throw new Error(`${label} on ${port} exited at start: ${tail(path.join(dir, 'redis.log'))}`);
    });
    died.catch(() => undefined);
    await Promise.race([waitForPong(url, 10_000, started.pid), died]);
  };
  const kill9 = async () => {
    if (!child || hasExited(child)) return;
    const gone = exited(child);
    child.kill('SIGKILL');
    await gone;
  };
  const stop = async () => {
    if (child) await stopProcess(child, 10_000);
  };
  const destroy = async () => {
    adminClient?.disconnect();
    adminClient = undefined;
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    await start();
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    port,
    url,
    dir,
    pid: () => (child && !hasExited(child) ? child.pid : undefined),
    kill9,
    stop,
    start,
    admin: () => {
      if (!adminClient) {
        adminClient = new Redis(url, { maxRetriesPerRequest: 3, retryStrategy: (n) => Math.min(n * 20, 200) });
        adminClient.on('error', () => undefined);
      }
      return adminClient;
    },
    destroy,
  };
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}
