import { Config } from './config/config';
import { closeWorkerDeps, createWorkerDeps } from './deps';
import { createLogger, Logger } from './lib/logger';
import { startMetricsServer } from './lib/metrics';
import { startPurchaseWorker } from './modules/purchases/decision/queue-consumer';
import { scheduleOnShards, startHoldWorker, sweepExpiredHolds } from './modules/purchases/holds/holds';
import { startOrphanSweep } from './modules/recovery/orphan-sweep';
import { createPurchaseNotifier } from './realtime/emitter';
import { DeliveryResult, startDeliveryWorker } from './modules/webhooks/delivery';
import { startRelay } from './modules/webhooks/relay';
import { startLifecycleScheduler } from './modules/webhooks/scheduler';

export type RunningWorker = { stop: () => Promise<void>; /** GET /metrics of this worker (WORKER_METRICS_PORT). */ metricsUrl: string };

/**
 * Starts a purchase worker with its own connections (createWorkerDeps). Stop order: the
 * sweep and the workers first (they finish the jobs in hand), then queues, Redis, PostgreSQL.
 */
export type WorkerHooks = {
  /** How each webhook delivery attempt ended (besides the metrics: tests listen here). */
  onWebhookResult?: (result: DeliveryResult) => void;
};

export async function startWorker(config: Config, logger: Logger = createLogger(config.logLevel, 'worker'), hooks: WorkerHooks = {}): Promise<RunningWorker> {
  const deps = await createWorkerDeps(config, logger);
  // First, so a taken port fails the start before any job is taken.
  const metricsServer = await startMetricsServer(deps.metrics.registry, { host: config.metrics.host, port: config.metrics.workerPort }, logger).catch(async (err: Error) => {
    await closeWorkerDeps(deps);
    throw new Error(`worker metrics listener on ${config.metrics.host}:${config.metrics.workerPort} (WORKER_METRICS_PORT): ${err.message}`);
  });
  // Before taking jobs: a sale whose gate Redis lost (no persistence) is rebuilt from PostgreSQL.
  await deps.reconciler.rebuildMissing();
  // One hold worker and one purchase worker per shard this process consumes (WORKER_QUEUE_SHARDS).
  const holdDeps = { ...deps, onHoldExpired: deps.metrics.holdExpired };
  const holdWorkers = config.workerShards.map((shard) => startHoldWorker({ ...holdDeps, queue: deps.holdQueues.shards[shard]! }));
  // Holds whose delayed job was lost (Redis without persistence) still end.
  await sweepExpiredHolds(holdDeps).catch((err: Error) => logger.error('hold sweep failed', { err: err.message }));
  const notifyOwners = createPurchaseNotifier(deps.redis, deps.config.redisPrefix);
  const onOutcomes: typeof notifyOwners = (jobs, outcomes) => {
    deps.metrics.outcomes(jobs, outcomes);
    notifyOwners(jobs, outcomes);
  };
  const running = config.workerShards.map((shard) =>
    startPurchaseWorker({
      ...deps,
      queue: deps.queues.shards[shard]!,
      onOutcomes,
      onConfirmed: (held) => scheduleOnShards(deps.holdQueues, held),
      onBatch: deps.metrics.batch,
    }),
  );
  await Promise.all(running.map((r) => r.worker.waitUntilReady()));
  // Purchases admitted whose job never landed are settled on their own (see orphan-sweep.ts).
  const orphanSweep = startOrphanSweep({ ...deps, graceMs: config.orphans.graceMs }, config.orphans.sweepMs, deps.keys.orphanSweepLease);
  // Webhooks: the outbox relay, the delivery worker, and the scheduler that records sale.started / sale.ended.
  const wh = config.webhooks;
  const onResult = (result: DeliveryResult) => {
    deps.metrics.webhookDelivery(result === 'retrying' ? 'failed' : result);
    hooks.onWebhookResult?.(result);
  };
  const deliveries = startDeliveryWorker({ ...deps, ...wh, queue: deps.webhookQueue, onResult });
  const relay = wh.faultRelayPaused ? { stop: async () => undefined } : startRelay({ ...deps, queue: deps.webhookQueue, attempts: wh.attempts }, wh.relayMs);
  const lifecycle = startLifecycleScheduler(deps, wh.schedulerMs, wh.retentionDays);
  logger.info('purchase worker ready', {
    queue: config.queueName,
    shards: `${config.workerShards.join(',')} of ${config.queueShards}`,
    concurrency: config.worker.concurrency,
    batchSize: config.worker.batchSize,
    metrics: metricsServer.url,
  });
  return {
    metricsUrl: metricsServer.url,
    stop: async () => {
      await metricsServer.close();
      await orphanSweep.stop();
      await Promise.all([relay.stop(), lifecycle.stop()]);
      await deliveries.close();
      await Promise.all(running.map((r) => r.close()));
      await Promise.all(holdWorkers.map((w) => w.close()));
      await closeWorkerDeps(deps);
    },
  };
}
