/** One admitted purchase, as the worker needs it. */
export type PurchaseJob = {
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
export type PurchaseBatch = { purchases: PurchaseJob[] };

export const PURCHASE_JOB_NAME = 'purchases';

/** Terminal outcome of a purchase as the worker decided it. */
export type PurchaseOutcome =
  | { purchaseId: string; status: 'confirmed'; orderId: string; holdExpiresAt: string }
  | { purchaseId: string; status: 'rejected'; reason: string }
  /** Released by the API before a worker claimed it (enqueue failed): nothing to write. */
  | { purchaseId: string; status: 'skipped' };
