import { AppError } from '../../lib/errors';
import { SaleRecord } from './sale';
import { planSaleChange } from './sale-change';

const sale: SaleRecord = {
  id: '6f1c1d2e-0000-4000-8000-000000000001',
  productId: '6f1c1d2e-0000-4000-8000-000000000002',
  name: 'Drop',
  startsAt: new Date('2026-01-01T10:00:00Z'),
  endsAt: new Date('2026-01-01T11:00:00Z'),
  stock: 10,
  perUserLimit: 2,
  priceCents: 500,
  holdSeconds: 600,
  listed: true,
  lowStockThreshold: null,
  waitingRoom: false,
  cancelledAt: null,
};
const before = new Date('2026-01-01T09:00:00Z');
const during = new Date('2026-01-01T10:30:00Z');
const nothingSold = { sold: 0, held: 0 };

/** The code an edit is refused with, or 'ok'. */
function verdict(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    return (err as AppError).code;
  }
}

describe('planSaleChange', () => {
  it('When the sale has not started, then every field may change and the gate is told', () => {
    const input = {
      name: 'New',
      startsAt: new Date('2026-01-01T10:10:00Z'),
      endsAt: new Date('2026-01-01T12:00:00Z'),
      stock: 4,
      perUserLimit: 4,
      priceCents: 100,
      holdSeconds: 60,
    };
    const change = planSaleChange(sale, nothingSold, input, before);
    expect(change.next).toEqual({ ...sale, ...input });
    expect(change.stockDelta).toBe(-6);
    expect(change.touchesGate).toBe(true);
  });

  it('When only the name or price changes, then the gate is left alone', () => {
    expect(planSaleChange(sale, nothingSold, { name: 'x' }, during).touchesGate).toBe(false);
    expect(planSaleChange(sale, nothingSold, { priceCents: 1 }, before).touchesGate).toBe(false);
  });

  it('When the sale has started, then startsAt, perUserLimit, priceCents and holdSeconds are SALE_STARTED, and the message names them', () => {
    for (const input of [
      { startsAt: new Date('2026-01-01T10:05:00Z') },
      { perUserLimit: 3 },
      { priceCents: 499 },
      { holdSeconds: 30 },
    ]) {
      expect(verdict(() => planSaleChange(sale, nothingSold, input, during))).toBe('SALE_STARTED');
    }
    expect(() => planSaleChange(sale, nothingSold, { priceCents: 1, perUserLimit: 1 }, during)).toThrow(/refused: perUserLimit, priceCents$/);
  });

  it('When the sale has started, then endsAt may move later but not earlier, and stock may grow but not shrink', () => {
    expect(verdict(() => planSaleChange(sale, nothingSold, { endsAt: new Date('2026-01-01T12:00:00Z') }, during))).toBe('ok');
    expect(verdict(() => planSaleChange(sale, nothingSold, { endsAt: new Date('2026-01-01T10:45:00Z') }, during))).toBe('SALE_STARTED');
    expect(planSaleChange(sale, nothingSold, { stock: 15 }, during).stockDelta).toBe(5);
    expect(verdict(() => planSaleChange(sale, nothingSold, { stock: 9 }, during))).toBe('SALE_STARTED');
  });

  it('When a started sale is sent its current values, then that is no change and allowed', () => {
    const same = { startsAt: new Date(sale.startsAt), perUserLimit: 2, priceCents: 500, holdSeconds: 600, endsAt: new Date(sale.endsAt), stock: 10 };
    const change = planSaleChange(sale, nothingSold, same, during);
    expect(change).toEqual({ next: sale, stockDelta: 0, touchesGate: false });
  });

  it('When stock would drop below what is sold, then it is STOCK_BELOW_SOLD, before or during the sale', () => {
    expect(verdict(() => planSaleChange(sale, { sold: 6, held: 0 }, { stock: 5 }, during))).toBe('STOCK_BELOW_SOLD');
    expect(verdict(() => planSaleChange(sale, { sold: 3, held: 3 }, { stock: 5 }, before))).toBe('STOCK_BELOW_SOLD');
    expect(verdict(() => planSaleChange(sale, { sold: 6, held: 0 }, { stock: 6 }, before))).toBe('ok');
  });

  it('When the sale is cancelled or ended, then nothing changes', () => {
    expect(verdict(() => planSaleChange({ ...sale, cancelledAt: before }, nothingSold, { name: 'x' }, before))).toBe('SALE_CANCELLED');
    expect(verdict(() => planSaleChange(sale, nothingSold, { endsAt: new Date('2026-01-02T00:00:00Z') }, sale.endsAt))).toBe('SALE_ENDED');
  });

  it('When the merged sale would be invalid, then it is VALIDATION_FAILED', () => {
    expect(verdict(() => planSaleChange(sale, nothingSold, { startsAt: new Date('2026-01-01T11:30:00Z') }, before))).toBe('VALIDATION_FAILED');
    expect(verdict(() => planSaleChange(sale, nothingSold, { stock: 1 }, before))).toBe('VALIDATION_FAILED');
    expect(verdict(() => planSaleChange(sale, nothingSold, { perUserLimit: 11 }, before))).toBe('VALIDATION_FAILED');
  });

  it('When a started sale is listed or unlisted, then that applies and the gate is untouched', () => {
    const change = planSaleChange(sale, nothingSold, { listed: false }, during);
    expect(change.next.listed).toBe(false);
    expect(change.touchesGate).toBe(false);
  });
});
