import { PurchaseView, purchaseView } from './view';

/** One admitted purchase, as the worker needs it. */
export type AdmittedPurchase = {
  purchaseId: string;
  saleId: string;
  userId: string;
  quantity: number;
  /** Epoch ms of admission (the Lua gate's clock). */
  admittedAt: number;
  idempotencyKey: string | null;
};

/**
 * What one BullMQ job carries: the purchases one API process admitted in the same turn
 * of its event loop (up to ENQUEUE_BATCH_MAX). A job per purchase cost Redis more in
 * BullMQ's bookkeeping (add, move to active, move to finished, events) than the whole
 * admission; the job id is its first purchase's id, so a replayed add is a no-op.
 */
export type PurchaseJobData = { purchases: AdmittedPurchase[] };

export const PURCHASE_JOB_NAME = 'purchases';

/** Terminal outcome of a purchase as the worker decided it. */
export type PurchaseOutcome =
  | { purchaseId: string; status: 'confirmed'; orderId: string; holdExpiresAt: string }
  | { purchaseId: string; status: 'rejected'; reason: string }
  /** Released by the API before a worker claimed it (enqueue failed): nothing to write. */
  | { purchaseId: string; status: 'skipped' };

export type DecidedOutcome = Exclude<PurchaseOutcome, { status: 'skipped' }>;

/** The purchase view of a worker's decision: the read model and the owner's socket get the same. */
export function outcomeView(job: AdmittedPurchase, outcome: DecidedOutcome): PurchaseView {
  return purchaseView({ ...outcome, saleId: job.saleId, quantity: job.quantity, createdAt: new Date(job.admittedAt).toISOString() });
}

/**
 * What a completed job keeps in Redis (BullMQ's return value): counts, not every outcome.
 * The outcomes live in PostgreSQL and the read model; completed jobs are kept an hour for
 * the queue dashboard, and a job's full outcome list was kilobytes each.
 */
export type BatchSummary = { confirmed: number; rejected: number; skipped: number };

export function summarize(outcomes: PurchaseOutcome[]): BatchSummary {
  const summary: BatchSummary = { confirmed: 0, rejected: 0, skipped: 0 };
  for (const o of outcomes) summary[o.status] += 1;
  return summary;
}
