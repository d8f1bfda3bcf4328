import { Counter, Histogram, Registry } from 'prom-client';
import { METRIC_PREFIX, registerSharedMetrics, SharedMetrics } from '../../lib/metrics';
import { AdmittedPurchase, PurchaseOutcome } from '../purchases/job';

/** What a worker process measures (the API's counterpart: api-metrics.ts). */
export type WorkerMetrics = SharedMetrics & {
  registry: Registry;
  /** After a batch's outcomes are committed (the processor's onOutcomes hook): decisions and 202-to-decision times. */
  outcomes: (jobs: AdmittedPurchase[], outcomes: PurchaseOutcome[]) => void;
  /** A group-commit transaction is about to write this many purchases. */
  batch: (size: number) => void;
  /** An unpaid hold ended because its time ran out. */
  holdExpired: () => void;
};

/** Seconds from the 202 to the decision: a lone purchase waits out WORKER_BATCH_WAIT_MS (10 ms); a drain of a big backlog takes tens of seconds. */
const DECISION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Purchases per transaction, up to WORKER_BATCH_SIZE (200 by default, at most 1000). */
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 150, 200, 500, 1000];

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const decided = new Counter({
    name: `${METRIC_PREFIX}purchases_decided_total`,
    help: 'Purchases a worker decided, by status (confirmed, rejected) and reason (the rejection reason; empty when confirmed). A redelivered job re-reports its decisions',
    labelNames: ['status', 'reason'] as const,
    registers: [registry],
  });
  const decisionSeconds = new Histogram({
    name: `${METRIC_PREFIX}decision_seconds`,
    help: 'Time from admission (the 202; the Lua gate\'s clock) to the decision committed in PostgreSQL',
    buckets: DECISION_BUCKETS,
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: `${METRIC_PREFIX}group_commit_batch_size`,
    help: 'Purchases written per group-commit transaction',
    buckets: BATCH_BUCKETS,
    registers: [registry],
  });
  const expiries = new Counter({
    name: `${METRIC_PREFIX}hold_expiries_total`,
    help: 'Unpaid holds ended because their time ran out (units returned to the sale)',
    registers: [registry],
  });
  decided.labels('confirmed', '').inc(0);

  return {
    ...registerSharedMetrics(registry),
    registry,
    outcomes: (jobs, outcomes) => {
      const now = Date.now();
      outcomes.forEach((o, i) => {
        if (o.status === 'skipped') return;
        decided.labels(o.status, o.status === 'rejected' ? o.reason : '').inc();
        const admittedAt = jobs[i]?.purchaseId === o.purchaseId ? jobs[i]!.admittedAt : jobs.find((j) => j.purchaseId === o.purchaseId)?.admittedAt;
        if (admittedAt !== undefined) decisionSeconds.observe(Math.max(0, now - admittedAt) / 1000);
      });
    },
    batch: (size) => batchSize.observe(size),
    holdExpired: () => expiries.inc(),
  };
}
