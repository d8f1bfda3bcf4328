import { AdmittedPurchase, PurchaseOutcome } from '../job';

type Entry = { job: AdmittedPurchase; resolve: (o: PurchaseOutcome) => void; reject: (e: unknown) => void };
export type BatchWriter = (saleId: string, jobs: AdmittedPurchase[]) => Promise<PurchaseOutcome[]>;

/**
 * Group commit: jobs of the same sale that arrive together are written in one
 * transaction (up to `maxSize` jobs, waiting at most `maxWaitMs` for company).
 * One batch per sale is in flight at a time; the advisory lock would serialise
 * them anyway. A batch that fails is retried job by job, so one bad job fails
 * alone and its neighbours still commit.
 */
export class SaleBatcher {
  private readonly pending = new Map<string, Entry[]>();
  private readonly busy = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly write: BatchWriter,
    private readonly maxSize: number,
    private readonly maxWaitMs: number,
  ) {}

  submit(job: AdmittedPurchase): Promise<PurchaseOutcome> {
    return new Promise((resolve, reject) => {
      const list = this.pending.get(job.saleId) ?? [];
      list.push({ job, resolve, reject });
      this.pending.set(job.saleId, list);
      this.schedule(job.saleId);
    });
  }

  private schedule(saleId: string): void {
    if (this.busy.has(saleId)) return; // flushed again when the running batch ends
    const size = this.pending.get(saleId)?.length ?? 0;
    if (size === 0) return;
    if (size >= this.maxSize || this.maxWaitMs === 0) {
      this.flushNow(saleId);
    } else if (!this.timers.has(saleId)) {
      this.timers.set(saleId, setTimeout(() => this.flushNow(saleId), this.maxWaitMs));
    }
  }

  private flushNow(saleId: string): void {
    clearTimeout(this.timers.get(saleId));
    this.timers.delete(saleId);
    const list = this.pending.get(saleId) ?? [];
    const batch = list.splice(0, this.maxSize);
    if (list.length === 0) this.pending.delete(saleId);
    if (batch.length === 0) return;
    this.busy.add(saleId);
    void this.run(saleId, batch).finally(() => {
      this.busy.delete(saleId);
      this.schedule(saleId);
    });
  }

  private async run(saleId: string, batch: Entry[]): Promise<void> {
    try {
      const outcomes = await this.write(saleId, batch.map((e) => e.job));
      batch.forEach((e, i) => e.resolve(outcomes[i]!));
    } catch (err) {
      if (batch.length === 1) return batch[0]!.reject(err);
      for (const entry of batch) {
        try {
          const [outcome] = await this.write(saleId, [entry.job]);
          entry.resolve(outcome!);
        } catch (e) {
          entry.reject(e);
        }
      }
    }
  }
}
