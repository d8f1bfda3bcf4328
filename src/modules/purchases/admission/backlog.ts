import { Logger } from '../../../lib/logger';
import { countAll, PurchaseQueues } from '../queue';

/** Longest a backlog count waits for the adds in flight. */
const ADD_WAIT_MS = 1000;
/**
 * Longest an add waits for a count in flight. A count stalled by Redis (up to the command
 * timeout) must not hold every shopper's 202 or 503 behind it: measured, it added ~0.5 s
 * to the answers while Redis dropped replies.
 */
const COUNT_WAIT_MS = 25;

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
   * job or not? So a count waits for the adds in flight (at most ADD_WAIT_MS: a hung add
   * must not stop the polls), and adds wait for a count (at most COUNT_WAIT_MS). An add
   * that lands during a count is kept in `sinceLastPoll` after it too: counted twice at
   * worst until the next poll, which errs toward refusing, never toward a longer backlog.
   */
  private addedDuringCount = 0;
  /** True while the count's query runs (after it waited for the adds in flight). */
  private querying = false;
  private addsInFlight = 0;
  private addsSettled: (() => void) | undefined;
  private counting: Promise<void> | undefined;

  constructor(
    private readonly queues: PurchaseQueues,
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

  /** Runs one add of a job holding `purchases` purchases, after the count in flight (if it answers soon). */
  async enqueueing<T>(purchases: number, add: () => Promise<T>): Promise<T> {
    if (this.counting) await Promise.race([this.counting, new Promise((resolve) => setTimeout(resolve, COUNT_WAIT_MS).unref())]);
    this.addsInFlight += 1;
    try {
      const added = await add();
      this.sinceLastPoll += purchases;
      if (this.querying) this.addedDuringCount += purchases;
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
      this.addedDuringCount = 0;
      this.querying = true;
      const counts = await countAll(this.queues, 'waiting', 'prioritized', 'delayed');
      const jobs = (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0);
      const perJob = this.jobsEnqueued > 0 ? this.purchasesEnqueued / this.jobsEnqueued : 1;
      this.waiting = Math.round(jobs * perJob);
      this.sinceLastPoll = this.addedDuringCount;
    } catch (err) {
      this.logger.warn('backlog poll failed', { err: (err as Error).message });
    } finally {
      this.querying = false;
      this.addsSettled = undefined;
      this.counting = undefined;
      done();
    }
  }
}
