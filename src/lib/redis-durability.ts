import { Redis } from 'ioredis';
import { Logger } from './logger';

/**
 * Warns, one line each, when Redis could lose admitted purchases (no AOF) or evict
 * them (an eviction policy other than noeviction). Returns the warnings for tests.
 */
export async function checkRedisDurability(redis: Redis, logger: Logger): Promise<string[]> {
  const warnings: string[] = [];
  try {
    const aof = (await redis.config('GET', 'appendonly')) as string[];
    const policy = (await redis.config('GET', 'maxmemory-policy')) as string[];
    if (aof[1] !== 'yes') {
      warnings.push('Redis runs without AOF (appendonly no): purchases still queued are lost if Redis restarts. Use appendonly yes in production.');
    }
    if (policy[1] !== 'noeviction') {
      warnings.push(`Redis maxmemory-policy is ${policy[1]}: under memory pressure it may evict queued purchases and sale counters. Use noeviction.`);
    }
  } catch (err) {
    warnings.push(`Could not read Redis durability settings (CONFIG GET refused?): ${(err as Error).message}`);
  }
  for (const w of warnings) logger.warn(w);
  return warnings;
}
