import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { createLogger } from '../src/lib/logger';
import { connectRedis, createApiRedis } from '../src/lib/redis';
import { checkRedisDurability } from '../src/lib/redis-durability';
import { waitFor } from './helpers';

/** A throwaway redis-server on its own port, stopped by PID afterwards. */
async function withRedis(args: string[], fn: (url: string) => Promise<void>): Promise<void> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...args], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  try {
    await waitFor(async () => {
      // No reconnect timer left behind when the server is not up yet.
      const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG' ? true : undefined;
      } finally {
        probe.disconnect();
      }
    }, 'throwaway redis-server', 10_000, 100);
    await fn(url);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function warningsFor(url: string): Promise<string[]> {
  const redis = await connectRedis(createApiRedis(url, 'durability-test'));
  try {
    return await checkRedisDurability(redis, createLogger('silent', 'test'));
  } finally {
    await redis.quit();
  }
}

describe('Start-up Redis durability check', () => {
  it('When Redis runs without AOF and with an eviction policy, then one clear warning is given for each', async () => {
    await withRedis(['--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru'], async (url) => {
      const warnings = await warningsFor(url);
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toMatch(/AOF.*lost/);
      expect(warnings[1]).toMatch(/allkeys-lru.*evict/);
    });
  });

  it('When Redis runs with AOF and noeviction, then there is no warning', async () => {
    await withRedis(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction'], async (url) => {
      expect(await warningsFor(url)).toEqual([]);
    });
  });
});
