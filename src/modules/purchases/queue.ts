import { RedisClient } from '../../lib/redis';
import { Queue, QueueOptions } from 'bullmq';
import { Config } from '../../config/config';
import { Keys } from '../../gate/keys';
import { PURCHASE_JOB_NAME, PurchaseJobData, AdmittedPurchase } from './job';

export type PurchaseQueue = Queue<PurchaseJobData>;

export function createPurchaseQueue(
  connection: RedisClient,
  opts: { name: string; prefix: string; attempts: number; backoffMs: number },
): PurchaseQueue {
  return new Queue<PurchaseJobData>(opts.name, {
    connection,
    prefix: opts.prefix,
    defaultJobOptions: {
      attempts: opts.attempts,
      backoff: { type: 'exponential', delay: opts.backoffMs },
      // Completed jobs are dropped soon (the outcome lives in PostgreSQL and the read model);
      // failed ones stay for the sweeper and for people to inspect.
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  } satisfies QueueOptions);
}

/** The purchase queue as configured (name, retries) under the engine's BullMQ prefix. */
export function purchaseQueueFor(connection: RedisClient, config: Pick<Config, 'queueName' | 'worker'>, keys: Pick<Keys, 'bullPrefix'>): PurchaseQueue {
  return createPurchaseQueue(connection, {
    name: config.queueName,
    prefix: keys.bullPrefix,
    attempts: config.worker.attempts,
    backoffMs: config.worker.backoffMs,
  });
}

/** One job for these purchases, named after the first (an add replayed after a reconnect is a no-op). */
export function enqueuePurchases(queue: PurchaseQueue, purchases: AdmittedPurchase[]) {
  return queue.add(PURCHASE_JOB_NAME, { purchases }, { jobId: purchases[0]!.purchaseId });
}

/** Tells the gate that these purchases now have a queue job: one HDEL per sale. */
export function markQueued(redis: RedisClient, keys: Pick<Keys, 'sale'>, jobs: AdmittedPurchase[]): Promise<unknown> {
  const bySale = new Map<string, string[]>();
  for (const j of jobs) {
    const ids = bySale.get(j.saleId);
    if (ids) ids.push(j.purchaseId);
    else bySale.set(j.saleId, [j.purchaseId]);
  }
  return Promise.all([...bySale].map(([saleId, ids]) => redis.hdel(keys.sale(saleId).unqueued, ...ids)));
}
