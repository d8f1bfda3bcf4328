import { AdmittedPurchase } from '../purchases/job';
import { PurchaseQueue } from '../purchases/queue';

/** Every job state in which an undecided purchase can wait (completed jobs are decided or were skipped). */
export const PENDING_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'waiting-children'] as const;
/** The states of jobs that can still run (an exhausted `failed` job cannot). */
export const LIVE_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'] as const;

/**
 * The purchases held by the queue's jobs in these states, by purchase id (one listing of
 * the queue: recovery only, never on a hot path). `saleId` keeps one sale's.
 */
export async function purchasesInJobs(
  queue: PurchaseQueue,
  states: readonly (typeof PENDING_JOB_STATES)[number][],
  saleId?: string,
): Promise<Map<string, AdmittedPurchase>> {
  const jobs = await queue.getJobs([...states], 0, -1);
  const out = new Map<string, AdmittedPurchase>();
  for (const job of jobs) {
    for (const p of job?.data?.purchases ?? []) if (saleId === undefined || p.saleId === saleId) out.set(p.purchaseId, p);
  }
  return out;
}
