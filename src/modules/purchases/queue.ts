import { RedisClient } from '../../lib/redis';
import { JobType, Queue, QueueOptions } from 'bullmq';
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

/**
 * Queue shards chosen by sale: every purchase of a sale goes to the same shard (its batches
 * and its order stay together), and different sales spread over the shards, each under its
 * own hash tag. With one shard this is the plain queue.
 */
export class Sharded<Q extends { close(): Promise<void> }> {
  constructor(readonly shards: readonly Q[]) {
    if (shards.length === 0) throw new Error('at least one queue shard');
  }

  shardOf(saleId: string): number {
    return shardOf(saleId, this.shards.length);
  }

  forSale(saleId: string): Q {
    return this.shards[this.shardOf(saleId)]!;
  }

  async close(): Promise<void> {
    await Promise.all(this.shards.map((q) => q.close()));
  }
}

export type PurchaseQueues = Sharded<PurchaseQueue>;

/**
 * The shard of a sale: FNV-1a of its id, modulo the shard count. Stable across processes
 * and restarts (every API node and worker must agree); changing QUEUE_SHARDS moves sales,
 * so jobs already queued stay where they are (see keys.bullPrefixOf).
 */
export function shardOf(saleId: string, shards: number): number {
  if (shards <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < saleId.length; i++) {
    h ^= saleId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}

/** Jobs in every shard, by state (for the backlog and the health check). */
export async function countAll(queues: Sharded<PurchaseQueue>, ...types: JobType[]): Promise<Record<string, number>> {
  const all = await Promise.all(queues.shards.map((q) => q.getJobCounts(...types)));
  const out: Record<string, number> = {};
  for (const counts of all) for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** The purchase queue's shards as configured (name, retries), each under its own BullMQ prefix. */
export function purchaseQueuesFor(connection: RedisClient, config: Pick<Config, 'queueName' | 'queueShards' | 'worker'>, keys: Pick<Keys, 'bullPrefixOf'>): PurchaseQueues {
  return new Sharded(
    Array.from({ length: config.queueShards }, (_, shard) =>
      createPurchaseQueue(connection, {
        name: config.queueName,
        prefix: keys.bullPrefixOf(shard),
        attempts: config.worker.attempts,
        backoffMs: config.worker.backoffMs,
      }),
    ),
  );
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
