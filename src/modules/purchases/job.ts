/** What a queued purchase job carries; the job id is the purchase id. */
export type PurchaseJob = {
  purchaseId: string;
  saleId: string;
  userId: string;
  quantity: number;
  /** Epoch ms of admission (the Lua gate's clock). */
  admittedAt: number;
  idempotencyKey: string | null;
};

export const PURCHASE_JOB_NAME = 'purchase';

/** Terminal outcome of a purchase as the worker decided it. */
export type PurchaseOutcome =
  | { purchaseId: string; status: 'confirmed'; orderId: string; holdExpiresAt: string }
  | { purchaseId: string; status: 'rejected'; reason: string }
  /** Released by the API before a worker claimed it (enqueue failed): nothing to write. */
  | { purchaseId: string; status: 'skipped' };
