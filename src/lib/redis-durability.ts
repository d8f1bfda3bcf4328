import { Logger } from './logger';
import { masters, RedisClient } from './redis';

/**
 * Warns, one line each, when Redis could lose admitted purchases (no AOF) or evict
 * them (an eviction policy other than noeviction). On a cluster every master is asked:
 * one master without AOF loses the sales whose slots it holds. Returns the warnings for tests.
 */
export async function checkRedisDurability(redis: RedisClient, logger: Logger): Promise<string[]> {
  const warnings: string[] = [];
  const nodes = masters(redis);
  for (const node of nodes) {
    const where = nodes.length > 1 || node !== redis ? ` (${node.options.host}:${node.options.port})` : '';
    try {
      const aof = (await node.config('GET', 'appendonly')) as string[];
      const policy = (await node.config('GET', 'maxmemory-policy')) as string[];
      if (aof[1] !== 'yes') {
        warnings.push(`Redis runs without AOF (appendonly no)${where}: purchases still queued are lost if Redis restarts. Use appendonly yes in production.`);
      }
      if (policy[1] !== 'noeviction') {
        warnings.push(`Redis maxmemory-policy is ${policy[1]}${where}: under memory pressure it may evict queued purchases and sale counters. Use noeviction.`);
      }
    } catch (err) {
      warnings.push(`Could not read Redis durability settings${where} (CONFIG GET refused?): ${(err as Error).message}`);
    }
  }
  for (const w of warnings) logger.warn(w);
  return warnings;
}
