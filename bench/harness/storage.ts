/**
 * Storage: the bench's own database (flashsale_bench), truncated at start, and Redis: its own
 * server, flushed at start; or DB 2 of the shared server, where only the bench's own keys are
 * deleted (the shared Redis is never flushed).
 */
import os from 'node:os';
import { Redis } from 'ioredis';
import { createDb, Db } from '../../src/lib/db';
import { prepareDatabase } from '../../src/lib/migration-source';
import { createPurchaseQueue, PurchaseQueue } from '../../src/modules/purchases/queue';
import { createKeys } from '../../src/gate/keys';
import { DATABASE_URL, REDIS_PREFIX } from '../stack';
import { QUEUE_NAME, round1, sleep } from './context';

const QUEUE_IDLE_TIMEOUT_MS = 180_000;

export type Storage = { db: Db; redis: Redis; queue: PurchaseQueue };

export async function openStorage(redisUrl: string, opts: { ownServer: boolean }): Promise<Storage> {
  await prepareDatabase(DATABASE_URL);
  const db = createDb(DATABASE_URL, 2);
  // This database belongs to the bench alone: start every run from empty tables.
  // CASCADE: the tables that point at these (webhook events and deliveries, purchase failures) go too.
  await db.raw('TRUNCATE orders, purchases, sale_inventory, sales, products, webhook_endpoints CASCADE');
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, connectionName: 'fs-bench' });
  if (opts.ownServer) await redis.flushdb();
  else await deleteOwnKeys(redis, [`${REDIS_PREFIX}:*`, `{${REDIS_PREFIX}:bull*`]);
  const queue = createPurchaseQueue(redis, { name: QUEUE_NAME, prefix: createKeys(REDIS_PREFIX).bullPrefix, attempts: 1, backoffMs: 100 });
  return { db, redis, queue };
}

/** Deletes the keys matching these patterns, a SCAN page at a time (the bench's own keys on a shared server). */
async function deleteOwnKeys(redis: Redis, patterns: string[]): Promise<void> {
  for (const match of patterns) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }
}

export async function closeStorage(s: Storage): Promise<void> {
  await s.queue.close().catch(() => undefined);
  await s.redis.quit().catch(() => undefined);
  await s.db.destroy().catch(() => undefined);
}

async function queueBacklog(queue: PurchaseQueue): Promise<number> {
  const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/** Waits until the worker has taken every job (so the next scenario runs on a quiet machine). */
export async function waitForQueueIdle(queue: PurchaseQueue): Promise<{ backlog: number; ms: number }> {
  const started = Date.now();
  const backlog = await queueBacklog(queue);
  for (let left = backlog; left > 0; left = await queueBacklog(queue)) {
    if (Date.now() - started > QUEUE_IDLE_TIMEOUT_MS) throw new Error(`queue still holds ${left} jobs after ${QUEUE_IDLE_TIMEOUT_MS} ms`);
    await sleep(100);
  }
  return { backlog, ms: Date.now() - started };
}

/** Purchases of a sale in PostgreSQL: each one admitted and decided (confirmed or rejected). */
export async function purchasesOf(db: Db, saleId: string): Promise<number> {
  const row = (await db.raw<{ rows: { n: number }[] }>('SELECT count(*)::int AS n FROM purchases WHERE sale_id = ?', [saleId])).rows[0];
  return row?.n ?? 0;
}

export async function ordersOf(db: Db, saleId: string): Promise<number> {
  const row = (await db.raw<{ rows: { n: number }[] }>('SELECT count(*)::int AS n FROM orders WHERE sale_id = ?', [saleId])).rows[0];
  return row?.n ?? 0;
}

export async function machineInfo(s: Storage): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  const settings = `SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc`;
  const pg = (await s.db.raw<{ rows: { v: string; sc: string }[] }>(settings)).rows[0];
  const redisVersion = /redis_version:(\S+)/.exec(await s.redis.info('server'))?.[1];
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemMb: Math.round(os.totalmem() / 2 ** 20),
    date: new Date().toISOString(),
    loadavgAtStart: os.loadavg().map(round1),
    postgres: pg?.v,
    postgresSynchronousCommit: pg?.sc,
    redis: redisVersion,
  };
}

/**
 * Average purchases written per worker transaction: orders.created_at defaults to now(),
 * the transaction's start time, so distinct values count the transactions (≈, to the µs).
 */
export async function averageBatch(db: Db, saleId: string): Promise<number | null> {
  const row = (
    await db.raw<{ rows: { n: number; txs: number }[] }>(
      'SELECT count(*)::int AS n, count(DISTINCT created_at)::int AS txs FROM orders WHERE sale_id = ?',
      [saleId],
    )
  ).rows[0];
  return row && row.txs > 0 ? round1(row.n / row.txs) : null;
}
