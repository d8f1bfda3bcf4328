/**
 * The purchase resource of the HTTP and Socket.io contract, built in one place so every
 * read of a purchase (the 202, a keyed retry, GET by id, the list, a socket update) carries
 * the same fields for the same state.
 */
export type PurchaseStatus = 'queued' | 'confirmed' | 'rejected' | 'paid' | 'expired' | 'cancelled';

type Common = { purchaseId: string; saleId: string; quantity: number; createdAt: string };

export type PurchaseView =
  | (Common & { status: 'queued' })
  /** Units held for the shopper until `holdExpiresAt`; pay before then. */
  | (Common & { status: 'confirmed'; orderId: string; holdExpiresAt: string })
  | (Common & { status: 'paid'; orderId: string; paidAt: string })
  | (Common & { status: 'rejected'; reason: string })
  /** The hold ended unpaid (HOLD_EXPIRED) or the shopper gave it up (CANCELLED_BY_SHOPPER): the units went back. */
  | (Common & { status: 'expired' | 'cancelled'; reason: string; holdEndedAt: string });

/** Everything any source (gate record, read model, PostgreSQL row, worker outcome) may know of a purchase. */
export type PurchaseFacts = Common & {
  status: PurchaseStatus;
  reason?: string | null;
  orderId?: string | null;
  holdExpiresAt?: string | null;
  paidAt?: string | null;
  holdEndedAt?: string | null;
};

const need = (facts: PurchaseFacts, field: keyof PurchaseFacts): string => {
  const value = facts[field];
  // A source that lacks a field its state requires is a bug in that source: say which.
  if (typeof value !== 'string' || value === '') throw new Error(`a ${facts.status} purchase needs ${field} (${facts.purchaseId})`);
  return value;
};

/** The view for a state: exactly the fields that state carries, no more (the OpenAPI schema is strict). */
export function purchaseView(facts: PurchaseFacts): PurchaseView {
  const common: Common = { purchaseId: facts.purchaseId, saleId: facts.saleId, quantity: facts.quantity, createdAt: facts.createdAt };
  switch (facts.status) {
    case 'queued':
      return { ...common, status: 'queued' };
    case 'confirmed':
      return { ...common, status: 'confirmed', orderId: need(facts, 'orderId'), holdExpiresAt: need(facts, 'holdExpiresAt') };
    case 'paid':
      return { ...common, status: 'paid', orderId: need(facts, 'orderId'), paidAt: need(facts, 'paidAt') };
    case 'rejected':
      return { ...common, status: 'rejected', reason: need(facts, 'reason') };
    case 'expired':
    case 'cancelled':
      return { ...common, status: facts.status, reason: need(facts, 'reason'), holdEndedAt: need(facts, 'holdEndedAt') };
  }
}

/** Reasons a hold ends without payment. */
export const HoldEndReason = { expired: 'HOLD_EXPIRED', cancelled: 'CANCELLED_BY_SHOPPER' } as const;
