import { Config } from './config/config';
import { createDb, Db } from './lib/db';
import { createLogger, Logger } from './lib/logger';
import { connectRedis, createApiRedis, createWorkerRedis, reportConnection, RedisClient } from './lib/redis';
import { createKeys, Keys } from './gate/keys';
import { loadScripts } from './gate/scripts';
import { EnqueueBatcher } from './modules/purchases/admission/enqueue-batcher';
import { BacklogMonitor } from './modules/purchases/admission/backlog';
import { markQueued, PurchaseQueues, purchaseQueuesFor } from './modules/purchases/queue';
import { SoldOutCache } from './modules/purchases/admission/sold-out-cache';
import { createOwnerNotifier, NotifyOwner } from './realtime/emitter';
import { HoldQueues, holdQueuesFor } from './modules/purchases/holds/holds';
import { Reconciler } from './modules/recovery/reconciler';
import { createWebhookQueue, WebhookQueue } from './modules/webhooks/queue';
import { PurchaseSales } from './modules/purchases/purchase-id';
import { WaitingRooms } from './modules/waiting-room/room';
import { createMetricsRegistry } from './lib/metrics';
import { countDeadLetters } from './modules/dead-letters/repository';
import { ApiMetrics, createApiMetrics } from './modules/metrics/api-metrics';
import { registerStateGauges } from './modules/metrics/state-gauges';
import { createWorkerMetrics, WorkerMetrics } from './modules/metrics/worker-metrics';

/** Everything the API needs, wired explicitly (no container, no module singletons). */
export type ApiDeps = {
  config: Config;
  logger: Logger;
  db: Db;
  redis: RedisClient;
  keys: Keys;
  /** The purchase queue's shards (QUEUE_SHARDS), chosen by sale. */
  queues: PurchaseQueues;
  /** The hold queues beside them (the API only shows and counts them: the queue dashboard, the metrics). */
  holdQueues: HoldQueues;
  /** The webhook delivery queue (the API only shows and counts it). */
  webhookQueue: WebhookQueue;
  /** This process's Prometheus registry and instruments (served on METRICS_PORT by startApi). */
  metrics: ApiMetrics;
  /** Groups the purchases admitted in one event-loop turn into one job per shard. */
  enqueue: EnqueueBatcher;
  backlog: BacklogMonitor;
  soldOut: SoldOutCache;
  /** Tells a purchase's owner about a change made by this API node (e.g. a payment). */
  notify: NotifyOwner;
  /** Rebuilds a sale's gate from PostgreSQL when Redis lost it (one run per sale at a time). */
  restoreSale: (saleId: string) => Promise<void>;
  /** Which sale a purchase id names (its gate holds it while queued). */
  purchaseSales: PurchaseSales;
  /** Waiting rooms: lines, passes; moves the lines this node serves every LINE_TICK_MS. */
  line: WaitingRooms;
  /** A `Sale-Pass` header checked in Node (admission's injected pass check): its place id. */
  checkPass: (token: string, who: { saleId: string; userId: string }) => string;
};

export async function createApiDeps(config: Config, logger = createLogger(config.logLevel, 'api')): Promise<ApiDeps> {
  const db = createDb(config.databaseUrl, config.pgPoolMax, logger);
  const redis = await connectRedis(reportConnection(createApiRedis(config.redis, 'fs-api', { commandTimeoutMs: config.redisCommandTimeoutMs }), logger, 'api'));
  loadScripts(redis);
  const keys = createKeys(config.redisPrefix);
  const queues = purchaseQueuesFor(redis, config, keys);
  // Its client's outages are logged once by reportConnection; BullMQ would print each to stderr.
  for (const q of queues.shards) q.on('error', (err) => logger.debug('queue client error', { err: err.message }));
  const holdQueues = holdQueuesFor(redis, { purchaseQueueName: config.queueName, shards: config.queueShards, prefixOf: keys.bullPrefixOf });
  for (const q of holdQueues.shards) q.on('error', (err) => logger.debug('hold queue client error', { err: err.message }));
  const metrics = createApiMetrics(createMetricsRegistry());
  // Shown by the queue dashboard and the queue gauges; the workers' relay is its producer.
  const webhookQueue = createWebhookQueue(redis, keys.webhookBullPrefix);
  webhookQueue.on('error', (err) => logger.debug('webhook queue client error', { err: err.message }));
  registerStateGauges(metrics.registry, { db, redis, keys, queues: { purchases: queues.shards, holds: holdQueues.shards, webhooks: [webhookQueue] } });
  // The open dead letters, as GET /api/admin/dead-letters lists them (read at each scrape).
  for (const kind of ['purchase', 'webhook'] as const) metrics.countDeadLetters(kind, () => countDeadLetters(db, kind));
  const backlog = new BacklogMonitor(queues, config.queueMaxBacklog, config.backlogPollMs, logger);
  await backlog.start();
  const enqueue = new EnqueueBatcher(queues, backlog, config.enqueueBatchMax, {
    markQueued: (jobs) => markQueued(redis, keys, jobs),
    faultDelayMs: config.faultEnqueueDelayMs,
    onMarkFailed: (err) => logger.warn('queued marker not written; the orphan sweep will look for the job', { err: err.message }),
  });
  const soldOut = new SoldOutCache(redis, keys, logger);
  soldOut.start();
  const notify = createOwnerNotifier(redis, config.redisPrefix);
  const reconciler = new Reconciler({ db, redis, keys, queues, logger, graceMs: config.orphans.graceMs });
  const line = new WaitingRooms({ db, redis, keys, logger, config });
  line.start();
  return {
    config, logger, db, redis, keys, queues, holdQueues, webhookQueue, metrics, enqueue, backlog, soldOut, notify,
    restoreSale: (saleId) => reconciler.request(saleId),
    purchaseSales: new PurchaseSales(db),
    line,
    checkPass: (token, who) => line.checkPass(token, who),
  };
}

export async function closeApiDeps(deps: ApiDeps): Promise<void> {
  deps.backlog.stop();
  await deps.line.stop();
  await deps.soldOut.stop();
  await Promise.all([deps.queues.close(), deps.holdQueues.close(), deps.webhookQueue.close()]);
  await deps.redis.quit().catch(() => undefined);
  await deps.db.destroy();
}

/** Everything a worker process needs, wired once (the worker's counterpart of ApiDeps). */
export type WorkerDeps = {
  config: Config;
  logger: Logger;
  db: Db;
  /** Scripts, reads and writes; waits through a Redis outage (maxRetriesPerRequest: null). */
  redis: RedisClient;
  /** BullMQ's own connection for the workers (it duplicates it for blocking reads). */
  connection: RedisClient;
  keys: Keys;
  /** Every shard of the purchase queue (producers for recovery; this process consumes `config.workerShards`). */
  queues: PurchaseQueues;
  holdQueues: HoldQueues;
  notify: NotifyOwner;
  reconciler: Reconciler;
  /** Webhook deliveries: the relay adds to it, the delivery worker consumes it. */
  webhookQueue: WebhookQueue;
  /** This process's Prometheus registry and instruments (served on WORKER_METRICS_PORT by startWorker). */
  metrics: WorkerMetrics;
};

export async function createWorkerDeps(config: Config, logger = createLogger(config.logLevel, 'worker')): Promise<WorkerDeps> {
  const db = createDb(config.databaseUrl, config.pgPoolMax, logger);
  const redis = await connectRedis(reportConnection(createWorkerRedis(config.redis, 'fs-worker'), logger, 'worker'));
  const connection = await connectRedis(reportConnection(createWorkerRedis(config.redis, 'fs-worker-bullmq'), logger, 'worker-bullmq'));
  loadScripts(redis);
  const keys = createKeys(config.redisPrefix);
  const queues = purchaseQueuesFor(redis, config, keys);
  // Their client's outages are logged once by reportConnection; BullMQ would print each to stderr.
  for (const q of queues.shards) q.on('error', (err) => logger.debug('queue client error', { err: err.message }));
  const holdQueues = holdQueuesFor(redis, { purchaseQueueName: config.queueName, shards: config.queueShards, prefixOf: keys.bullPrefixOf });
  for (const q of holdQueues.shards) q.on('error', (err) => logger.debug('hold queue client error', { err: err.message }));
  const notify = createOwnerNotifier(redis, config.redisPrefix);
  const reconciler = new Reconciler({ db, redis, keys, queues, logger, graceMs: config.orphans.graceMs });
  const webhookQueue = createWebhookQueue(redis, keys.webhookBullPrefix);
  webhookQueue.on('error', (err) => logger.debug('webhook queue client error', { err: err.message }));
  const metrics = createWorkerMetrics(createMetricsRegistry());
  return { config, logger, db, redis, connection, keys, queues, holdQueues, notify, reconciler, webhookQueue, metrics };
}

/** After the workers have stopped: queues, then Redis, then PostgreSQL. */
export async function closeWorkerDeps(deps: WorkerDeps): Promise<void> {
  await Promise.all([deps.queues.close(), deps.holdQueues.close(), deps.webhookQueue.close()]);
  await Promise.all([deps.redis.quit().catch(() => undefined), deps.connection.quit().catch(() => undefined)]);
  await deps.db.destroy();
}
