import { Errors } from '../../../lib/errors';
import { readPurchase, ReadDeps } from '../read-model';
import { PurchaseView } from '../view';
import { cancelHold, HoldDeps } from './holds';
import { holdEnded, notYetConfirmed } from './refusals';

const notCancellable = (status: string) =>
  Errors.conflict('PURCHASE_NOT_CANCELLABLE', `A ${status} purchase cannot be cancelled; only a confirmed, unpaid one can`);

/**
 * The shopper gives up a confirmed, unpaid purchase: like an expiry, but now. Under the
 * sale's lock, so a payment and a cancel can never both win; the units go back on sale at
 * once. Cancelling a cancelled purchase returns it unchanged.
 */
export async function cancelPurchase(deps: HoldDeps & ReadDeps, req: { purchaseId: string; userId: string }): Promise<PurchaseView> {
  const view = await readPurchase(deps, req.purchaseId, req.userId);
  if (!view) throw Errors.notFound('PURCHASE_NOT_FOUND', 'Purchase not found');
  if (view.status === 'cancelled') return view;
  if (view.status === 'queued') throw notYetConfirmed('cancel');
  if (view.status === 'expired') throw holdEnded();
  if (view.status !== 'confirmed') throw notCancellable(view.status);

  const hold = { purchaseId: view.purchaseId, saleId: view.saleId, userId: req.userId, quantity: view.quantity, admittedAt: Date.parse(view.createdAt) };
  const result = await cancelHold(deps, hold);
  if (result.view) return result.view;
  if (result.status === 'expired') throw holdEnded();
  throw notCancellable(result.status ?? 'unknown');
}
