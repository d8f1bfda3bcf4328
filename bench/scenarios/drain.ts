/**
 * (d) drain: orders/s of ONE worker from a pre-filled queue. With no worker running, N
 * purchases for one hot sale are queued through the real admission path (HTTP 202s), then one
 * worker starts and orders/s are timed until PostgreSQL holds all N orders; once with the
 * shipped group commit, once with WORKER_BATCH_SIZE=1 (one job, one transaction).
 */
import { WORKER_BATCH_DEFAULTS } from '../../src/config/config';
import { Db } from '../../src/lib/db';
import { Bench, log, round1, sleep } from '../harness/context';
import { figures, runLoad } from '../harness/load';
import { cpuPer, ProcessMeter } from '../harness/meter';
import { Proc, spawnWorker, stopProcess } from '../harness/processes';
import { redisLine, RedisTotals } from '../harness/redis-meter';
import { redisMeterFor } from '../harness/redis-setup';
import { averageBatch, ordersOf, purchasesOf, waitForQueueIdle } from '../harness/storage';
import { createSale } from '../stack';
import { attemptTarget } from './attempt';

const ORDERS_POLL_MS = 100;

export type DrainRecord = {
  batchSize: number;
  round: number;
  saleId: string;
  /** Purchases admitted over HTTP (202) into the queue before the worker started (prefill.jobs: the queue jobs holding them). */
  jobs: number;
  prefill: { jobs: number; reqPerSec: number; statusCounts: Record<string, number>; apiRssMb: number };
  /** From the first poll that saw an order to the poll that saw them all. */
  ordersPerSec: number;
  /** Cross-check from PostgreSQL: orders / (last - first orders.created_at, i.e. transaction start). */
  dbSpanOrdersPerSec: number | null;
  firstSeenOrders: number;
  seconds: number;
  workerStartMs: number;
  workerMaxRssMb: number;
  /** Worker CPU per order, from the first poll that saw orders to the last. */
  workerCpuUsPerOrder: number;
  /** Purchases per worker transaction (group commit at work). */
  avgBatch: number | null;
  purchases: Record<string, number>;
  /** Redis's cost from the start of the pre-fill until the worker had decided every purchase (harness/redis-meter.ts). */
  redis: RedisTotals;
};

/**
 * Fills the queue for `saleId` through the real admission path (HTTP 202s); no worker is
 * running. `connections` 1 sends one attempt at a time, so each queue job holds one
 * purchase (the one-job-one-transaction baseline); more connections let the API put the
 * purchases it admits together into shared jobs, as it does in production.
 */
async function prefill(b: Bench, saleId: string, purchases: number, connections: number): Promise<DrainRecord['prefill'] & { admitted: number }> {
  const workers = await b.storage.queue.getWorkersCount();
  if (workers !== 0) throw new Error(`pre-fill: ${workers} worker(s) still attached to the queue`);
  const meter = new ProcessMeter([b.engine.proc]).start();
  const { target } = attemptTarget(b, b.engine, saleId);
  const sample = await runLoad(target, Math.min(connections, purchases), { amount: purchases });
  const rss = meter.stop().rssMb;
  const f = figures(sample, 202);
  const jobs = await b.storage.queue.getWaiting();
  const queued = jobs.reduce((n, j) => n + j.data.purchases.length, 0);
  if (queued !== f.expected) throw new Error(`pre-fill: ${f.expected} admitted but ${queued} purchases in the queue`);
  return { admitted: f.expected, jobs: jobs.length, reqPerSec: f.reqPerSec, statusCounts: f.statusCounts, apiRssMb: rss.engine ?? 0 };
}

type OrdersWatch = { firstAt: number; firstSeen: number; doneAt: number };

/** Polls the sale's order count every 100 ms until it reaches `jobs`. */
async function watchOrders(db: Db, saleId: string, jobs: number, worker: Proc, onFirstOrders: () => void): Promise<OrdersWatch> {
  const deadline = Date.now() + 60_000 + jobs * 10; // fails only below ~100 orders/s
  let first: { at: number; seen: number } | undefined;
  for (;;) {
    const n = await ordersOf(db, saleId);
    const now = Date.now();
    if (n > 0 && !first) {
      first = { at: now, seen: n };
      onFirstOrders();
    }
    if (n >= jobs && first) return { firstAt: first.at, firstSeen: first.seen, doneAt: now };
    if (worker.child.exitCode !== null) throw new Error(`worker exited during the drain:\n${worker.tail.join('\n')}`);
    if (now > deadline) throw new Error(`drain: ${n}/${jobs} orders after ${Math.round((now - (first?.at ?? now)) / 1000)} s`);
    await sleep(ORDERS_POLL_MS);
  }
}

async function dbSpanRate(db: Db, saleId: string): Promise<number | null> {
  const row = (
    await db.raw<{ rows: { n: number; span: number | null }[] }>(
      'SELECT count(*)::int AS n, extract(epoch FROM max(created_at) - min(created_at))::float8 AS span FROM orders WHERE sale_id = ?',
      [saleId],
    )
  ).rows[0];
  return row && row.span && row.span > 0 ? Math.round(row.n / row.span) : null;
}

async function purchaseStatuses(db: Db, saleId: string): Promise<Record<string, number>> {
  const { rows } = await db.raw<{ rows: { status: string; n: number }[] }>(
    'SELECT status, count(*)::int AS n FROM purchases WHERE sale_id = ? GROUP BY status',
    [saleId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function drainOnce(b: Bench, batchSize: number, jobs: number, round: number): Promise<DrainRecord> {
  const saleId = await createSale(b.engine.url, b.admin, { name: `bench drain b${batchSize} r${round}`, stock: jobs, perUserLimit: 1 });
  // Redis from the first attempt of the pre-fill (API) to the last purchase decided (worker).
  const drainWorker: { pid?: number } = {};
  const redisMeter = await redisMeterFor(b, () => (drainWorker.pid ? [drainWorker.pid] : [])).start();
  const filled = await prefill(b, saleId, jobs, batchSize === 1 ? 1 : b.opts.connections);
  const spawnedAt = Date.now();
  const { proc, ready } = spawnWorker(b.env, { WORKER_BATCH_SIZE: String(batchSize) });
  drainWorker.pid = proc.pid;
  const meter = new ProcessMeter([proc]).start();
  try {
    const readyAt = ready.then(
      () => Date.now(),
      () => NaN,
    );
    // CPU is counted from the first orders on, so the worker's start-up is left out.
    const watch = await watchOrders(b.storage.db, saleId, filled.admitted, proc, () => meter.restartCpu());
    const { rssMb: rss, cpuMs } = meter.stop();
    // Every order is in PostgreSQL; the last batch's Redis work (finalize, read model, holds,
    // the job's completion) follows its commit: done when the queue holds no job.
    await waitForQueueIdle(b.storage.queue);
    const redis = await redisMeter.stop(await purchasesOf(b.storage.db, saleId));
    const seconds = (watch.doneAt - watch.firstAt) / 1000;
    const dbRate = await dbSpanRate(b.storage.db, saleId);
    // All orders landed before a second poll: only PostgreSQL's own timestamps can time it.
    const ordersPerSec = seconds > 0 ? Math.round((filled.admitted - watch.firstSeen) / seconds) : (dbRate ?? 0);
    const record: DrainRecord = {
      batchSize,
      round,
      saleId,
      jobs: filled.admitted,
      prefill: { jobs: filled.jobs, reqPerSec: filled.reqPerSec, statusCounts: filled.statusCounts, apiRssMb: filled.apiRssMb },
      ordersPerSec,
      dbSpanOrdersPerSec: dbRate,
      firstSeenOrders: watch.firstSeen,
      seconds: round1(seconds),
      workerStartMs: (await readyAt) - spawnedAt,
      workerMaxRssMb: rss.worker ?? 0,
      workerCpuUsPerOrder: cpuPer(cpuMs, filled.admitted - watch.firstSeen).worker ?? NaN,
      avgBatch: await averageBatch(b.storage.db, saleId),
      purchases: await purchaseStatuses(b.storage.db, saleId),
      redis,
    };
    const batch = String(batchSize).padStart(3);
    log(`drain round ${round} batch ${batch}: ${record.ordersPerSec} orders/s (${record.jobs} jobs, db span ${dbRate ?? 'n/a'}/s); ${redisLine(redis)}`);
    return record;
  } finally {
    meter.stop();
    redisMeter.abort();
    await stopProcess(proc);
  }
}

/** (d) rounds, interleaved: group commit (the shipped batch size), batch 1, ... */
export async function runDrainRounds(b: Bench): Promise<{ grouped: DrainRecord[]; batch1: DrainRecord[] }> {
  const grouped: DrainRecord[] = [];
  const batch1: DrainRecord[] = [];
  for (let round = 1; round <= b.opts.drainRounds; round++) {
    grouped.push(await drainOnce(b, WORKER_BATCH_DEFAULTS.size, b.opts.drainJobs, round));
    batch1.push(await drainOnce(b, 1, b.opts.drainJobsBatch1, round));
  }
  return { grouped, batch1 };
}
