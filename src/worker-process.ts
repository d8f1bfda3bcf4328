import { Config } from './config/config';
import { createDb } from './lib/db';
import { createLogger, Logger } from './lib/logger';
import { connectRedis, createWorkerRedis, reportConnection } from './lib/redis';
import { createKeys } from './gate/keys';
import { loadScripts } from './gate/scripts';
import { purchaseQueueFor } from './modules/purchases/queue';
import { Reconciler } from './modules/recovery/reconciler';
import { startPurchaseWorker } from './modules/purchases/worker';
import { createOwnerNotifier, createPurchaseNotifier } from './realtime/emitter';
import { startOrphanSweep } from './modules/recovery/orphan-sweep';
import { createHoldQueue, scheduleHoldExpiries, startHoldWorker, sweepExpiredHolds } from './modules/purchases/holds';

export type RunningWorker = { stop: () => Promise<void> };

/**
 * Starts a purchase worker with its own connections. Stop order: the worker first
 * (it finishes the jobs in hand), then the queue, then Redis and PostgreSQL.
 */
export async function startWorker(config: Config, logger: Logger = createLogger(config.logLevel, 'worker')): Promise<RunningWorker> {
  const db = createDb(config.databaseUrl, config.pgPoolMax, logger);
  const redis = await connectRedis(reportConnection(createWorkerRedis(config.redisUrl, 'fs-worker'), logger, 'worker'));
  const connection = await connectRedis(reportConnection(createWorkerRedis(config.redisUrl, 'fs-worker-bullmq'), logger, 'worker-bullmq'));
  loadScripts(redis);
  const keys = createKeys(config.redisPrefix);
  const queue = purchaseQueueFor(redis, config, keys);
  // Its client's outages are logged once by reportConnection; BullMQ would print each to stderr.
  queue.on('error', (err) => logger.debug('queue client error', { err: err.message }));
  // Before taking jobs: a sale whose gate Redis lost (no persistence) is rebuilt from PostgreSQL.
  const reconciler = new Reconciler({ db, redis, keys, queue, logger });
  await reconciler.rebuildMissing();
  const notify = createOwnerNotifier(redis, config.redisPrefix);
  const holdQueue = createHoldQueue(redis, { purchaseQueueName: config.queueName, prefix: keys.bullPrefix });
  holdQueue.on('error', (err) => logger.debug('hold queue client error', { err: err.message }));
  const holdWorker = startHoldWorker({ db, redis, keys, logger, notify, queue: holdQueue, connection });
  // Holds whose delayed job was lost (Redis without persistence) still end.
  await sweepExpiredHolds({ db, redis, keys, logger, notify }).catch((err: Error) => logger.error('hold sweep failed', { err: err.message }));
  const running = startPurchaseWorker({
    config,
    db,
    redis,
    connection,
    queue,
    keys,
    logger,
    onOutcomes: createPurchaseNotifier(notify),
    onConfirmed: (held) => scheduleHoldExpiries(holdQueue, held),
  });
  await running.worker.waitUntilReady();
  // Purchases admitted whose job never landed are settled on their own (see orphan-sweep.ts).
  const orphanSweep = startOrphanSweep({ db, redis, keys, queue, logger, notify, reconciler, graceMs: config.orphans.graceMs }, config.orphans.sweepMs, keys.orphanSweepLease);
  logger.info('purchase worker ready', {
    queue: config.queueName,
    concurrency: config.worker.concurrency,
    batchSize: config.worker.batchSize,
  });
  return {
    stop: async () => {
      await orphanSweep.stop();
      await running.close();
      await holdWorker.close();
      await Promise.all([queue.close(), holdQueue.close()]);
      await Promise.all([redis.quit().catch(() => undefined), connection.quit().catch(() => undefined)]);
      await db.destroy();
    },
  };
}
