import { Errors } from '../../../lib/errors';
import { scripts } from '../../../gate/scripts';
import { underSaleLock } from '../../../lib/sale-lock';
import { readPurchase } from '../read-model';
import { HoldEndReason, PurchaseView } from '../view';
import { announceHoldEnd, HoldDeps } from './holds';
import { endHold, lockHold } from './repository';
import { holdEnded, notYetConfirmed } from './refusals';

const notCancellable = (status: string) =>
  Errors.conflict('PURCHASE_NOT_CANCELLABLE', `A ${status} purchase cannot be cancelled; only a confirmed, unpaid one can`);

/**
 * The shopper gives up a confirmed, unpaid purchase: like an expiry, but now. Under the
 * sale's lock, so a payment and a cancel can never both win; the units go back on sale at
 * once. Cancelling a cancelled purchase returns it unchanged.
 */
export async function cancelPurchase(deps: HoldDeps, req: { purchaseId: string; userId: string }): Promise<PurchaseView> {
  const view = await readPurchase(deps, req.purchaseId, req.userId);
  if (!view) throw Errors.notFound('PURCHASE_NOT_FOUND', 'Purchase not found');
  if (view.status === 'cancelled') return view;
  if (view.status === 'queued') throw notYetConfirmed('cancel');
  if (view.status === 'expired') throw holdEnded();
  if (view.status !== 'confirmed') throw notCancellable(view.status);

  const hold = { purchaseId: view.purchaseId, saleId: view.saleId, userId: req.userId, quantity: view.quantity, admittedAt: Date.parse(view.createdAt) };
  const result = await underSaleLock(deps.db, view.saleId, async (trx) => {
    const row = await lockHold(trx, req.purchaseId);
    if (!row || row.status !== 'confirmed') return { status: row?.status ?? 'unknown', endedAt: row?.hold_ended_at ?? null };
    return { status: 'cancelled', endedAt: await endHold(trx, hold, { status: 'cancelled', reason: HoldEndReason.cancelled }) };
  });
  if (result.status === 'expired') throw holdEnded();
  if (result.status !== 'cancelled' || !result.endedAt) throw notCancellable(result.status);
  // Also when an earlier call committed the cancel but failed on Redis: both steps are idempotent.
  await scripts.settleHold(deps.redis, deps.keys.sale(view.saleId), view.purchaseId, 'cancelled');
  return announceHoldEnd(deps, hold, { status: 'cancelled', reason: HoldEndReason.cancelled, endedAt: result.endedAt });
}
