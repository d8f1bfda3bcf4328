import { Router } from 'express';
import { Redis } from 'ioredis';
import { Db } from '../../lib/db';
import { PurchaseQueue } from '../purchases/queue';

type Check = { ok: boolean; ms: number; error?: string };

async function timed(fn: () => Promise<unknown>): Promise<Check> {
  const started = Date.now();
  try {
    await Promise.race([fn(), new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), 2000).unref())]);
    return { ok: true, ms: Date.now() - started };
  } catch (err) {
    return { ok: false, ms: Date.now() - started, error: (err as Error).message };
  }
}

/** live: the process answers; ready: it can serve (Redis, PostgreSQL); health: deep, with the queue. */
export function healthRouter(deps: { db: Db; redis: Redis; queue: PurchaseQueue; isShuttingDown: () => boolean }): Router {
  const router = Router();
  router.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/health/ready', async (_req, res) => {
    const [postgres, redis] = await Promise.all([timed(() => deps.db.raw('SELECT 1')), timed(() => deps.redis.ping())]);
    const ok = postgres.ok && redis.ok && !deps.isShuttingDown();
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'unavailable', checks: { postgres, redis } });
  });
  router.get('/health', async (_req, res) => {
    let counts: Record<string, number> = {};
    const [postgres, redis, queue] = await Promise.all([
      timed(() => deps.db.raw('SELECT 1')),
      timed(() => deps.redis.ping()),
      timed(async () => {
        counts = await deps.queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
      }),
    ]);
    const ok = postgres.ok && redis.ok && queue.ok;
    res.status(ok ? 200 : 503).json({ status: ok ? 'ok' : 'degraded', checks: { postgres, redis, queue: { ...queue, counts } } });
  });
  return router;
}
