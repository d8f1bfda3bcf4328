import { setTimeout as delay } from 'node:timers/promises';
import { AdmittedPurchase } from '../job';
import { enqueuePurchases, PurchaseQueues } from '../queue';
import { BacklogMonitor } from './backlog';

type Waiting = { job: AdmittedPurchase; resolve: () => void; reject: (err: unknown) => void };

/**
 * Puts the purchases admitted in one turn of the event loop into ONE BullMQ job per queue
 * shard they belong to (group commit's counterpart on the way in). Under load, the admissions whose Lua replies
 * arrived in the same socket read continue together; the batch is added once they have
 * all run (setImmediate), or as soon as it holds `maxSize`. Each caller's promise settles
 * with its batch's add, so a 202 still means "in the queue", and a failed add fails every
 * purchase in it (each caller then gives its units back, as before).
 */
export class EnqueueBatcher {
  private pending: Waiting[] = [];
  private scheduled = false;

  constructor(
    private readonly queues: PurchaseQueues,
    private readonly backlog: Pick<BacklogMonitor, 'enqueueing'>,
    private readonly maxSize: number,
    private readonly opts: {
      /** After an add: tells the gate these purchases have a job (the orphan sweep then leaves them alone). */
      markQueued: (jobs: AdmittedPurchase[]) => Promise<unknown>;
      /** Fault tests only: wait this long before each add. */
      faultDelayMs?: number;
      onMarkFailed?: (err: Error) => void;
    },
  ) {}

  enqueue(job: AdmittedPurchase): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject });
      if (this.pending.length >= this.maxSize) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const byShard = new Map<number, Waiting[]>();
    for (const w of batch) {
      const shard = this.queues.shardOf(w.job.saleId);
      const group = byShard.get(shard);
      if (group) group.push(w);
      else byShard.set(shard, [w]);
    }
    for (const [shard, group] of byShard) this.add(shard, group);
  }

  private add(shard: number, group: Waiting[]): void {
    const jobs = group.map((w) => w.job);
    const add = async () => {
      if (this.opts.faultDelayMs) await delay(this.opts.faultDelayMs);
      return enqueuePurchases(this.queues.shards[shard]!, jobs);
    };
    this.backlog.enqueueing(jobs.length, add).then(
      () => {
        // Not awaited by the 202: a lost marker only makes the sweep look in the queue for these.
        this.opts.markQueued(jobs).catch((err: Error) => this.opts.onMarkFailed?.(err));
        group.forEach((w) => w.resolve());
      },
      (err: unknown) => group.forEach((w) => w.reject(err)),
    );
  }
}
