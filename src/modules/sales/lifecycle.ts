import { Errors } from '../../lib/errors';
import { Logger } from '../../lib/logger';
import { underSaleLock } from '../../lib/sale-lock';
import { editSaleInGate, expireSaleKeysWithSale, gateRemaining, loadSaleIntoGate, pendingPurchaseIds, stopAdmissions } from '../../gate/sale-gate';
import { findSale, findSaleWithInventory, markCancelled, purchasesEndedByCancel, saveSaleChange } from './repository';
import { saleOutcomes } from './outcomes';
import { SaleRecord, SaleView, toSaleView } from './sale';
import { planSaleChange } from './sale-change';
import { SalesDeps } from './service';
import { UpdateSaleInput } from './validators';
import { noteStockLevel, recordEvents } from '../webhooks/outbox';

/**
 * The admin's changes to a live sale: edit and cancel. Both write PostgreSQL under the
 * sale's advisory lock, the one the worker takes for every write, so an edit or a
 * cancellation is never interleaved with a batch of purchases being decided.
 */

export type LifecycleDeps = SalesDeps & { logger: Logger };

const saleNotFound = () => Errors.notFound('SALE_NOT_FOUND', 'Sale not found');

async function viewOf(deps: SalesDeps, sale: SaleRecord): Promise<SaleView> {
  const remaining = await gateRemaining(deps.redis, deps.keys, [sale.id]);
  return toSaleView(sale, remaining.get(sale.id) ?? 0, new Date());
}

/**
 * Edits a sale (rules in sale-change.ts). In one transaction under the sale's lock: read
 * the sale and its stock, decide, write `sales` and move `sale_inventory` by the stock
 * delta, then apply the same change to the gate before committing. Should the commit
 * fail after the gate changed, the gate change is undone (its compensation, next to it).
 */
export async function editSale(deps: LifecycleDeps, saleId: string, input: UpdateSaleInput): Promise<SaleView> {
  const undo: { gate?: () => Promise<unknown> } = {};
  let saved: SaleRecord;
  try {
    saved = await underSaleLock(deps.db, saleId, async (trx) => {
      const found = await findSaleWithInventory(trx, saleId);
      if (!found) throw saleNotFound();
      const { sale, inventory } = found;
      const change = planSaleChange(sale, { sold: inventory.stock - inventory.remaining, held: 0 }, input, new Date());
      await saveSaleChange(trx, change.next, change.stockDelta);
      // More stock or a new threshold may cross the low-stock or sold-out line (the webhook marks move with it).
      if (change.stockDelta !== 0 || change.next.lowStockThreshold !== sale.lowStockThreshold) await noteStockLevel(trx, saleId);
      if (!change.touchesGate) return change.next;

      const gate = await editSaleInGate(deps.redis, deps.keys, change.next, change.stockDelta);
      switch (gate.outcome) {
        case 'not_loaded':
          throw Errors.unavailable('SALE_UNAVAILABLE', 'This sale is being restored; try again shortly', 2);
        case 'cancelled':
          throw Errors.conflict('SALE_CANCELLED', 'This sale was cancelled; it can no longer change');
        case 'below_zero':
          throw Errors.conflict('STOCK_BELOW_SOLD', `stock cannot be ${change.next.stock}: more units than that are already taken`);
      }
      undo.gate = () => editSaleInGate(deps.redis, deps.keys, sale, -change.stockDelta, 'force');
      return change.next;
    });
  } catch (err) {
    if (undo.gate) {
      await undo.gate().catch((undoErr: Error) =>
        deps.logger.error('could not undo a sale edit in the gate after the database refused it', { saleId, err: undoErr.message }),
      );
    }
    throw err;
  }
  // Housekeeping after the commit: every key of the sale expires with its (new) end.
  await expireSaleKeysWithSale(deps.redis, deps.keys, saved).catch((err: Error) =>
    deps.logger.warn('could not move the expiry of a sale\'s keys', { saleId, err: err.message }),
  );
  return viewOf(deps, saved);
}

export type CancelReport = SaleView & {
  cancelledAt: string;
  /** Orders confirmed before the cancellation; they stand. */
  confirmedOrders: number;
  unitsSold: number;
  /** Purchases admitted but not yet decided when the sale was cancelled: each ends rejected, SALE_CANCELLED. */
  queuedAtCancel: number;
};

/**
 * Cancels a sale. Redis first, so admissions stop at once; then PostgreSQL under the
 * sale's lock, after which the worker rejects every purchase it decides (SALE_CANCELLED)
 * and gives its units back: the confirmed orders counted under that lock are final.
 * Cancelling again answers the same report. An ended sale has nothing left to cancel.
 */
export async function cancelSale(deps: LifecycleDeps, saleId: string): Promise<CancelReport> {
  const before = await findSale(deps.db, saleId);
  if (!before) throw saleNotFound();
  if (!before.cancelledAt && new Date() >= before.endsAt) {
    throw Errors.conflict('SALE_ENDED', 'This sale has ended; there is nothing left to cancel');
  }

  const gateKnewSale = await stopAdmissions(deps.redis, deps.keys, saleId);

  const { sale, totals } = await underSaleLock(deps.db, saleId, async (trx) => {
    const wasCancelled = (await findSale(trx, saleId))?.cancelledAt;
    const cancelled = await markCancelled(trx, saleId);
    const t = await saleOutcomes(trx, saleId);
    if (!cancelled || !t) throw saleNotFound();
    // sale.cancelled commits with the cancellation, once (a repeated cancel changes nothing).
    if (!wasCancelled) {
      await recordEvents(trx, [{ type: 'sale.cancelled', data: { saleId, name: cancelled.name, stock: cancelled.stock, remaining: t.remaining } }]);
    }
    return { sale: cancelled, totals: t };
  });

  // A gate that had lost the sale gets it back, cancelled; every pending purchase will be
  // rejected, so PostgreSQL's remaining is the right count.
  if (!gateKnewSale) await loadSaleIntoGate(deps.redis, deps.keys, sale, totals.remaining);

  const pending = await pendingPurchaseIds(deps.redis, deps.keys, saleId);
  const queuedAtCancel = await purchasesEndedByCancel(deps.db, saleId, pending);
  return {
    ...(await viewOf(deps, sale)),
    cancelledAt: sale.cancelledAt!.toISOString(),
    confirmedOrders: totals.orders.count,
    unitsSold: totals.units.sold + totals.units.held,
    queuedAtCancel,
  };
}
