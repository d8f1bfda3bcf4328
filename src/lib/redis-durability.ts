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

/** One master's persistence, from `INFO persistence` (readable where CONFIG GET is refused). */
export type PersistenceStatus = { node: string; aofEnabled: boolean; aofLastWriteOk: boolean; rdbLastSaveOk: boolean };

/**
 * Reads every master's persistence now (the metrics read it at each scrape): whether AOF
 * is on and whether its last write, and the last RDB save, succeeded. A Redis whose disk
 * filled up keeps answering while it stops persisting; this is how an alert sees it.
 */
export async function persistenceStatus(redis: RedisClient): Promise<PersistenceStatus[]> {
  const nodes = masters(redis);
  return Promise.all(
    nodes.map(async (node) => {
      const info = await node.info('persistence');
      const field = (name: string) => new RegExp(`^${name}:(\\S+)`, 'm').exec(info)?.[1];
      return {
        node: `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`,
        aofEnabled: field('aof_enabled') === '1',
        aofLastWriteOk: field('aof_last_write_status') === 'ok',
        rdbLastSaveOk: field('rdb_last_bgsave_status') === 'ok',
      };
    }),
  );
}
