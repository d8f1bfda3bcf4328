import { NewEvent, PurchaseEventData } from '../webhooks/events';
import { PurchaseOutcome } from './job';

type Owner = { purchaseId: string; saleId: string; userId: string; quantity: number };

/** A purchase event's data: who owns it, and the fields its state carries (as the purchase view shows them). */
export const purchaseEventData = (p: Owner, state: Omit<PurchaseEventData, keyof Owner>): PurchaseEventData => ({
  purchaseId: p.purchaseId,
  saleId: p.saleId,
  userId: p.userId,
  quantity: p.quantity,
  ...state,
});

/** The webhook events of a worker's decisions: purchase.confirmed / purchase.rejected. */
export function purchaseEvents(decided: { job: Owner; outcome: PurchaseOutcome }[]): NewEvent[] {
  return decided.flatMap(({ job, outcome }): NewEvent[] =>
    outcome.status === 'confirmed'
      ? [{ type: 'purchase.confirmed', data: purchaseEventData(job, { status: 'confirmed', orderId: outcome.orderId, holdExpiresAt: outcome.holdExpiresAt }) }]
      : outcome.status === 'rejected'
        ? [{ type: 'purchase.rejected', data: purchaseEventData(job, { status: 'rejected', reason: outcome.reason }) }]
        : [],
  );
}
