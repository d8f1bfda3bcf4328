import { Queue, QueueOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { Config } from '../../config/config';
import { Logger } from '../../lib/logger';
import { Keys } from '../../gate/keys';
import { PURCHASE_JOB_NAME, PurchaseBatch, PurchaseJob } from './job';

export type PurchaseQueue = Queue<PurchaseBatch>;

export function createPurchaseQueue(
  connection: Redis,
  opts: { name: string; prefix: string; attempts: number; backoffMs: number },
): PurchaseQueue {
  return new Queue<PurchaseBatch>(opts.name, {
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
export function purchaseQueueFor(connection: Redis, config: Pick<Config, 'queueName' | 'worker'>, keys: Pick<Keys, 'bullPrefix'>): PurchaseQueue {
  return createPurchaseQueue(connection, {
    name: config.queueName,
    prefix: keys.bullPrefix,
    attempts: config.worker.attempts,
    backoffMs: config.worker.backoffMs,
  });
}

/** One job for these purchases, named after the first (an add replayed after a reconnect is a no-op). */
export function enqueuePurchases(queue: PurchaseQueue, purchases: PurchaseJob[]) {
  return queue.add(PURCHASE_JOB_NAME, { purchases }, { jobId: purchases[0]!.purchaseId });
}

/** Tells the gate that these purchases now have a queue job: one HDEL per sale. */
export function markQueued(redis: Redis, keys: Pick<Keys, 'sale'>, jobs: PurchaseJob[]): Promise<unknown> {
  const bySale = new Map<string, string[]>();
  for (const j of jobs) {
    const ids = bySale.get(j.saleId);
    if (ids) ids.push(j.purchaseId);
    else bySale.set(j.saleId, [j.purchaseId]);
  }
  return Promise.all([...bySale].map(([saleId, ids]) => redis.hdel(keys.sale(saleId).unqueued, ...ids)));
}

/** Longest a backlog count waits for the adds in flight. */
const ADD_WAIT_MS = 1000;

/**
 * Keeps the queue's backlog (purchases waiting) in memory so admission never pays a
 * Redis call to check it: polled every `pollMs`, plus what this process enqueued since
 * the last poll. The queue counts jobs; a job holds several purchases, so waiting jobs
 * are scaled by the purchases per job this process has been enqueueing (an estimate
 * that is exact when every node batches alike).
 */
export class BacklogMonitor {
  private waiting = 0;
  private sinceLastPoll = 0;
  private jobsEnqueued = 0;
  private purchasesEnqueued = 0;
  private timer: NodeJS.Timeout | undefined;
  /**
   * A count and an add in flight together cannot be told apart: did the count see the
   * job or not? So adds wait while a count runs, and a count waits for the adds in flight
   * (at most ADD_WAIT_MS: a hung add must not stop the polls).
   */
  private addsInFlight = 0;
  private addsSettled: (() => void) | undefined;
  private counting: Promise<void> | undefined;

  constructor(
    private readonly queue: PurchaseQueue,
    private readonly limit: number,
    private readonly pollMs: number,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  isOverloaded(): boolean {
    return this.waiting + this.sinceLastPoll >= this.limit;
  }

  /** Runs one add of a job holding `purchases` purchases, never while the queue is being counted. */
  async enqueueing<T>(purchases: number, add: () => Promise<T>): Promise<T> {
    while (this.counting) await this.counting;
    this.addsInFlight += 1;
    try {
      const added = await add();
      this.sinceLastPoll += purchases;
      this.purchasesEnqueued += purchases;
      this.jobsEnqueued += 1;
      return added;
    } finally {
      this.addsInFlight -= 1;
      if (this.addsInFlight === 0) this.addsSettled?.();
    }
  }

  /** Seconds a client should wait before retrying, from the poll period. */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(this.pollMs / 1000));
  }

  private async poll(): Promise<void> {
    if (this.counting) return;
    let done!: () => void;
    this.counting = new Promise<void>((resolve) => (done = resolve));
    try {
      if (this.addsInFlight > 0) {
        await new Promise<void>((resolve) => {
          this.addsSettled = resolve;
          setTimeout(resolve, ADD_WAIT_MS).unref();
        });
      }
      const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed');
      const jobs = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
      const perJob = this.jobsEnqueued > 0 ? this.purchasesEnqueued / this.jobsEnqueued : 1;
      this.waiting = Math.round(jobs * perJob);
      this.sinceLastPoll = 0;
    } catch (err) {
      this.logger.warn('backlog poll failed', { err: (err as Error).message });
    } finally {
      this.addsSettled = undefined;
      this.counting = undefined;
      done();
    }
  }
}
