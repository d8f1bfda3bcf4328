import { z } from 'zod';
import { AppError, Errors } from '../../../lib/errors';
import { DeadlineExceeded, withDeadline } from '../../../lib/deadline';
import { Logger } from '../../../lib/logger';
import { scripts } from '../../../gate/scripts';
import { NotifyOwner } from '../../../realtime/emitter';
import { underSaleLock } from '../../../lib/sale-lock';
import { paymentFacts, recordPayment } from './repository';
import { readPurchase, ReadDeps, writeReadModel } from '../read-model';
import { PurchaseView, purchaseView } from '../view';
import { holdEnded, notYetConfirmed } from './refusals';
import { recordEvents } from '../../webhooks/outbox';
import { purchaseEventData } from '../webhook-events';

export const payBodySchema = z.strictObject({ paymentToken: z.string().min(1).max(200) });

/**
 * The simulated payment provider. The token is the switch (documented in the README):
 * `tok_approve` approves, `tok_decline` declines, `tok_timeout` never answers; any other
 * token is declined.
 */
export type PaymentProvider = (paymentToken: string, amountCents: number) => Promise<'approved' | 'declined'>;

export const simulatedProvider: PaymentProvider = (token) => {
  if (token === 'tok_timeout') return new Promise(() => undefined);
  return Promise.resolve(token === 'tok_approve' ? 'approved' : 'declined');
};

export type PayDeps = ReadDeps & { logger: Logger; provider: PaymentProvider; timeoutMs: number; notify?: NotifyOwner };

/**
 * Pays a confirmed purchase. The provider is called outside any lock; the result is
 * written under the sale's advisory lock, where a purchase whose hold ended can no
 * longer become paid (never an oversell). Paying a paid purchase returns it unchanged.
 */
export async function payPurchase(deps: PayDeps, req: { purchaseId: string; userId: string; paymentToken: string }): Promise<PurchaseView> {
  const view = await readPurchase(deps, req.purchaseId, req.userId);
  if (!view) throw Errors.notFound('PURCHASE_NOT_FOUND', 'Purchase not found');
  if (view.status === 'paid') return view;
  if (view.status === 'expired') throw holdEnded();
  if (view.status === 'queued') throw notYetConfirmed('pay');
  if (view.status !== 'confirmed') throw Errors.conflict('PURCHASE_NOT_PAYABLE', `A ${view.status} purchase cannot be paid`);

  const row = await paymentFacts(deps.db, req.purchaseId);
  if (!row) throw Errors.notFound('PURCHASE_NOT_FOUND', 'Purchase not found');
  // PostgreSQL is the truth: a payment whose Redis update was lost is never charged twice.
  if (row.status === 'paid' && row.paid_at) return announcePaid(deps, view, req.userId, row.paid_at);
  if (!row.open) throw holdEnded();

  const answer = await withDeadline(deps.provider(req.paymentToken, Number(row.total)), deps.timeoutMs).catch((err: unknown) => {
    if (err instanceof DeadlineExceeded) return 'timeout' as const;
    throw err;
  });
  if (answer === 'timeout') {
    throw new AppError('gateway_timeout', 'PAYMENT_TIMEOUT', 'The payment provider did not answer in time; the purchase is still payable until its hold ends', {
      retryAfterSeconds: 1,
    });
  }
  if (answer === 'declined') {
    throw new AppError('payment_required', 'PAYMENT_DECLINED', 'The payment was declined; the purchase stays payable until its hold ends');
  }

  const recorded = await underSaleLock(deps.db, view.saleId, async (trx) => {
    const paid = await recordPayment(trx, req.purchaseId);
    // purchase.paid commits with the payment (once: a payment already recorded is not announced again).
    if (paid !== 'too-late' && paid.now) {
      const owner = { purchaseId: view.purchaseId, saleId: view.saleId, userId: req.userId, quantity: view.quantity };
      await recordEvents(trx, [{ type: 'purchase.paid', data: purchaseEventData(owner, { status: 'paid', orderId: view.orderId, paidAt: paid.paidAt.toISOString() }) }]);
    }
    return paid;
  });
  if (recorded === 'too-late') {
    // A real provider would be asked to refund here; the simulated one keeps no money.
    deps.logger.warn('payment arrived after the hold ended; refused', { purchaseId: req.purchaseId });
    throw holdEnded();
  }

  return announcePaid(deps, view, req.userId, recorded.paidAt);
}

/**
 * After PostgreSQL committed `paid`: the gate, the read model and the owner's sockets
 * hear of it. The payment stands whatever Redis says, so a Redis failure here is logged,
 * not answered as an error (the shopper would pay again); the next pay call repairs it.
 */
async function announcePaid(deps: PayDeps, view: PurchaseView & { status: 'confirmed' }, userId: string, paidAt: Date): Promise<PurchaseView> {
  const paid = purchaseView({ ...view, status: 'paid', paidAt: paidAt.toISOString() });
  try {
    await scripts.settleHold(deps.redis, deps.keys.sale(view.saleId), view.purchaseId, 'paid');
    await writeReadModel(deps.redis, deps.keys, [{ ...paid, userId }]);
  } catch (err) {
    deps.logger.warn('payment recorded; its Redis update failed', { purchaseId: view.purchaseId, err: (err as Error).message });
  }
  deps.notify?.(userId, paid);
  return paid;
}
