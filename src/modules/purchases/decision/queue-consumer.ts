import { RedisClient } from '../../../lib/redis';
import { DelayedError, Job, Worker } from 'bullmq';
import { Config } from '../../../config/config';
import { Db, isDatabaseUnavailable } from '../../../lib/db';
import { Logger } from '../../../lib/logger';
import { Keys } from '../../../gate/keys';
import { SaleBatcher } from './group-commit';
import { BatchSummary, PurchaseJobData, PurchaseOutcome, summarize } from '../job';
import { markProcessingFailed, processBatch, ProcessorDeps } from './processor';
import { PurchaseQueue } from '../queue';

export type PurchaseWorker = { worker: Worker<PurchaseJobData, BatchSummary>; close: () => Promise<void> };

const SWEEP_EVERY_MS = 30_000;
/** While PostgreSQL is down, a job waits this long (plus jitter) between tries, spending no attempt. */
const DB_DOWN_RETRY_MS = 1000;

/**
 * Starts the BullMQ worker that drains purchases into PostgreSQL.
 * `connection` must be a worker-style client (maxRetriesPerRequest: null); BullMQ
 * duplicates it for its blocking reads.
 */
export function startPurchaseWorker(deps: {
  config: Config;
  db: Db;
  redis: RedisClient;
  connection: RedisClient;
  queue: PurchaseQueue;
  keys: Keys;
  logger: Logger;
  onOutcomes?: ProcessorDeps['onOutcomes'];
  onConfirmed?: ProcessorDeps['onConfirmed'];
  /** Told the size of each group-commit batch before it is written (metrics). */
  onBatch?: (size: number) => void;
}): PurchaseWorker {
  const w = deps.config.worker;
  const processorDeps: ProcessorDeps = {
    db: deps.db,
    redis: deps.redis,
    keys: deps.keys,
    logger: deps.logger,
    faultHoldMs: w.faultHoldMs,
    onOutcomes: deps.onOutcomes,
    onConfirmed: deps.onConfirmed,
  };
  const batcher = new SaleBatcher(
    (saleId, jobs) => {
      deps.onBatch?.(jobs.length);
      return processBatch(processorDeps, saleId, jobs);
    },
    w.batchSize,
    w.batchWaitMs,
  );

  // A job's purchases join the per-sale batches; the job completes when all of them are
  // decided. If one fails, the job is retried: the decided ones are found in PostgreSQL
  // and reported, never written again.
  const processJob = async (job: Job<PurchaseJobData>, token?: string) => {
    const settled = await Promise.allSettled(job.data.purchases.map((p) => batcher.submit(p)));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed && token && isDatabaseUnavailable(failed.reason)) {
      // PostgreSQL down or restarting decides nothing: the job waits for it without
      // spending an attempt, so an outage longer than the retries never rejects shoppers.
      await job.moveToDelayed(Date.now() + DB_DOWN_RETRY_MS + Math.floor(Math.random() * DB_DOWN_RETRY_MS), token);
      throw new DelayedError();
    }
    if (failed) throw failed.reason;
    return summarize(settled.map((r) => (r as PromiseFulfilledResult<PurchaseOutcome>).value));
  };
  const worker = new Worker<PurchaseJobData, BatchSummary>(deps.queue.name, processJob, {
    connection: deps.connection,
    prefix: deps.queue.opts.prefix,
    concurrency: w.concurrency,
    lockDuration: w.lockMs,
    stalledInterval: w.stalledIntervalMs,
    maxStalledCount: 3,
  });

  // A job that ran out of attempts: each of its purchases must still end `rejected`
  // (unless already decided), never stay `queued`.
  const settleFailed = async (job: Job<PurchaseJobData>) => {
    try {
      if ((await job.getState()) !== 'failed') return;
      for (const purchase of job.data.purchases) {
        const outcome = await markProcessingFailed(processorDeps, purchase, { error: job.failedReason ?? 'failed', attempts: job.attemptsMade });
        deps.logger.warn('purchase failed permanently', { purchaseId: purchase.purchaseId, outcome: outcome.status, err: job.failedReason });
      }
      await job.remove().catch(() => undefined);
    } catch (err) {
      deps.logger.error('could not settle failed purchases; the sweeper retries', { jobId: job.id, err: (err as Error).message });
    }
  };
  worker.on('failed', (job) => {
    if (job) void settleFailed(job);
  });
  worker.on('error', (err) => deps.logger.error('worker error', { err: err.message }));

  // Failures whose handler never ran (process killed, database down) are settled by a sweep.
  const sweep = async () => {
    const failed = await deps.queue.getFailed(0, 499).catch(() => []);
    for (const job of failed) if (job) await settleFailed(job);
  };
  void sweep();
  const timer = setInterval(() => void sweep(), SWEEP_EVERY_MS);
  timer.unref();

  return {
    worker,
    close: async () => {
      clearInterval(timer);
      await worker.close(); // waits for the jobs in hand to finish
    },
  };
}
