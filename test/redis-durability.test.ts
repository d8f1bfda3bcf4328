import { createLogger } from '../src/lib/logger';
import { connectRedis, createApiRedis } from '../src/lib/redis';
import { checkRedisDurability } from '../src/lib/redis-durability';
import { startPrivateRedis } from './faults/private-redis';

async function withRedis(args: string[], fn: (url: string) => Promise<void>): Promise<void> {
  const server = await startPrivateRedis({ args, label: 'durability' });
  try {
    await fn(server.url);
  } finally {
    await server.destroy();
  }
}

async function warningsFor(url: string): Promise<string[]> {
  const redis = await connectRedis(createApiRedis({ url }, 'durability-test'));
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
