import { openSaleIds } from '../sales/repository';
import { reconcileSale, ReconcileDeps, ReconcileReport } from './reconcile';

/** After a failed reconciliation, further requests for the sale wait this long before trying again. */
const RETRY_AFTER_FAILURE_MS = 1000;
/** Rebuilds at once: after a flush every open sale is missing, and each one waits for its lock. */
const REBUILD_CONCURRENCY = 4;

/**
 * Runs reconciliations for one process: at most one at a time per sale (admissions that
 * find a sale missing from the gate all ask for the same rebuild), and the rebuild of
 * every open sale whose gate is missing (a worker at start, and the periodic sweep).
 */
export class Reconciler {
  private readonly running = new Map<string, Promise<void>>();

  constructor(private readonly deps: ReconcileDeps) {}

  /** Starts a reconciliation of the sale unless one is running here, and returns it. Never rejects: failures are logged. */
  request(saleId: string): Promise<void> {
    const current = this.running.get(saleId);
    if (current) return current;
    const run = reconcileSale(this.deps, saleId).then(
      (report) => {
        this.running.delete(saleId);
        this.deps.logger.warn('sale gate rebuilt from PostgreSQL', { ...report });
      },
      (err: Error) => {
        this.deps.logger.error('sale reconciliation failed', { saleId, err: err.message });
        setTimeout(() => this.running.delete(saleId), RETRY_AFTER_FAILURE_MS).unref();
      },
    );
    this.running.set(saleId, run);
    return run;
  }

  /**
   * Reconciles every sale that is neither ended nor cancelled and whose gate is missing
   * (created while Redis refused writes, or lost by a Redis without persistence): it would
   * show 0 left and never be tried. Never rejects: a failure is logged and retried later.
   */
  async rebuildMissing(nowMs = Date.now(), openSales?: string[]): Promise<ReconcileReport[]> {
    const { db, redis, keys, logger } = this.deps;
    const reports: ReconcileReport[] = [];
    try {
      const open = openSales ?? (await openSaleIds(db, new Date(nowMs)));
      const present = await Promise.all(open.map((id) => redis.exists(keys.sale(id).meta, keys.sale(id).remaining)));
      const missing = open.filter((_, i) => present[i] !== 2);
      const next = () => missing.shift();
      await Promise.all(
        Array.from({ length: Math.min(REBUILD_CONCURRENCY, missing.length) }, async () => {
          for (let id = next(); id !== undefined; id = next()) {
            try {
              const report = await reconcileSale(this.deps, id);
              logger.warn('sale gate was missing; rebuilt from PostgreSQL', { ...report });
              reports.push(report);
            } catch (err) {
              logger.error('rebuilding a missing sale gate failed; retried later', { saleId: id, err: (err as Error).message });
            }
          }
        }),
      );
    } catch (err) {
      logger.error('could not look for sales missing from the gate', { err: (err as Error).message });
    }
    return reports;
  }
}
