import { probeKeysPerMaster, RedisClient } from '../../lib/redis';
import { Router } from 'express';
import { Db } from '../../lib/db';
import { withDeadline } from '../../lib/deadline';
import { Keys } from '../../gate/keys';
import { countAll, PurchaseQueues } from '../purchases/queue';

type Check = { ok: boolean; ms: number; error?: string };

/** Longest a health check waits on one dependency. */
const CHECK_TIMEOUT_MS = 1000;

async function timed(fn: () => Promise<unknown>): Promise<Check> {
  const started = Date.now();
  try {
    await withDeadline(fn(), CHECK_TIMEOUT_MS);
    return { ok: true, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, ms: Date.now() - started, error: (err as Error).message };
  }
}

export type HealthDeps = { db: Db; redis: RedisClient; keys: Keys; queues: PurchaseQueues; isShuttingDown: () => boolean };

/**
 * live: the process answers (never depends on Redis or PostgreSQL, so an orchestrator
 * does not restart a healthy process during their outage). ready: it can admit purchases
 * now: PostgreSQL answers, and Redis and the queue take writes (a ping succeeds on a
 * Redis at maxmemory that refuses every admission; a short-lived SET does not).
 * health: deep, with the queue's counts.
 */
export function healthRouter(deps: HealthDeps): Router {
  const router = Router();
  const checks = () =>
    Promise.all([
      timed(() => deps.db.raw('SELECT 1')),
      // One write per master (one on a single Redis): a cluster with a master down or full is not ready.
      timed(async () => {
        const keys = await probeKeysPerMaster(deps.redis, deps.keys.healthProbe);
        await Promise.all(keys.map((key) => deps.redis.set(key, '1', 'PX', 5000)));
      }),
      // The queue shares the API's client; each shard's key lives in that shard's own slot.
      timed(() => Promise.all(deps.queues.shards.map((_, i) => deps.redis.set(deps.keys.queueHealthProbe(i), '1', 'PX', 5000)))),
    ]);
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const [postgres, redis, queue] = await checks();
    const ok = postgres.ok && redis.ok && queue.ok && !deps.isShuttingDown();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks: { postgres, redis, queue } });
  });
  router.get('/health', async (_req, res) => {
    let counts: Record<string, number> = {};
    const [[postgres, redis, queue], countCheck] = await Promise.all([
      checks(),
      timed(async () => {
        counts = await countAll(deps.queues, 'waiting', 'active', 'delayed', 'failed');
      }),
    ]);
    const queueOk = queue.ok && countCheck.ok;
    const ok = postgres.ok && redis.ok && queueOk;
    res.status(ok ? 200 : 503).json({
      status: ok ? 'ok' : 'degraded',
      checks: { postgres, redis, queue: { ...queue, ok: queueOk, ...(countCheck.error ? { error: countCheck.error } : {}), counts } },
    });
  });
  return router;
}
