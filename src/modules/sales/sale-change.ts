import { Errors } from '../../lib/errors';
import { SaleRecord } from './sale';
import { UpdateSaleInput } from './validators';

/** What an edit does, once allowed: the sale as it will be stored, and how stock moves. */
export type SaleChange = {
  next: SaleRecord;
  /** Units added to (or, before the start, removed from) stock and remaining alike. */
  stockDelta: number;
  /** True when a field admit-8 reads (window, limit, stock) changes. */
  touchesGate: boolean;
};

/** Units no edit may take away: sold (confirmed orders) and held (unpaid; none until holds exist). */
export type Committed = { sold: number; held: number };

const FROZEN_ONCE_STARTED = ['startsAt', 'perUserLimit', 'priceCents', 'holdSeconds'] as const;

const same = (a: unknown, b: unknown) => (a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b);

/**
 * Decides whether an admin's edit may apply to a sale, and what it changes. The rules:
 * - a cancelled or ended sale never changes (409 SALE_CANCELLED / SALE_ENDED);
 * - stock never goes below what is sold or held (409 STOCK_BELOW_SOLD);
 * - before the start anything may change; once started only `name`, a later `endsAt`
 *   and more `stock` (409 SALE_STARTED naming the fields). A field sent with its
 *   current value is no change and always allowed; `listed` may change at any time;
 * - the result must still be a valid sale: ends after it starts, limit <= stock (400).
 * Pure: the caller reads the sale under its lock and applies the result.
 */
export function planSaleChange(sale: SaleRecord, committed: Committed, input: UpdateSaleInput, now: Date): SaleChange {
  if (sale.cancelledAt) throw Errors.conflict('SALE_CANCELLED', 'This sale was cancelled; it can no longer change');
  if (now >= sale.endsAt) throw Errors.conflict('SALE_ENDED', 'This sale has ended; it can no longer change');

  const next: SaleRecord = { ...sale };
  for (const [field, value] of Object.entries(input) as [keyof UpdateSaleInput, unknown][]) {
    if (value !== undefined) (next as Record<string, unknown>)[field] = value;
  }

  const taken = committed.sold + committed.held;
  if (next.stock < taken) {
    throw Errors.conflict(
      'STOCK_BELOW_SOLD',
      `stock cannot be ${next.stock}: ${committed.sold} units are sold${committed.held ? ` and ${committed.held} held` : ''}`,
    );
  }

  if (now >= sale.startsAt) {
    const refused: string[] = FROZEN_ONCE_STARTED.filter((f) => !same(next[f], sale[f]));
    if (next.endsAt < sale.endsAt) refused.push('endsAt (it may only move later)');
    if (next.stock < sale.stock) refused.push('stock (it may only grow)');
    if (refused.length > 0) {
      throw Errors.conflict(
        'SALE_STARTED',
        `This sale has started: only name, listed, a later endsAt and more stock may change; refused: ${refused.join(', ')}`,
      );
    }
  }

  if (next.endsAt <= next.startsAt) {
    throw Errors.validation('Invalid body: endsAt: must be after startsAt', [{ path: 'endsAt', message: 'must be after startsAt' }]);
  }
  if (next.perUserLimit > next.stock) {
    throw Errors.validation('Invalid body: perUserLimit: must not exceed stock', [{ path: 'perUserLimit', message: 'must not exceed stock' }]);
  }

  const stockDelta = next.stock - sale.stock;
  const touchesGate = stockDelta !== 0 || (['startsAt', 'endsAt', 'perUserLimit'] as const).some((f) => !same(next[f], sale[f]));
  return { next, stockDelta, touchesGate };
}
