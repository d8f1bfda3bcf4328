import { foldOutcomes } from './outcomes';

describe('Sale outcomes', () => {
  it('When purchases were confirmed, paid, expired, cancelled and rejected, then each lands in its block and the holds sum to the confirmed', () => {
    const rows = [
      { status: 'confirmed', reason: null, n: '3', units: '4' },
      { status: 'paid', reason: null, n: '2', units: '2' },
      { status: 'expired', reason: 'HOLD_EXPIRED', n: '1', units: '2' },
      { status: 'cancelled', reason: 'CANCELLED_BY_SHOPPER', n: '1', units: '1' },
      { status: 'rejected', reason: 'SOLD_OUT', n: '5', units: '5' },
      { status: 'rejected', reason: 'PROCESSING_FAILED', n: '1', units: '1' },
    ];
    const out = foldOutcomes({ stock: 10, remaining: 4 }, rows, { count: 5, units: 6 });
    expect(out.decided).toEqual({ confirmed: 7, rejected: 6, byReason: { SOLD_OUT: 5, PROCESSING_FAILED: 1 } });
    expect(out.holds).toEqual({ held: 3, paid: 2, expired: 1, cancelled: 1 });
    expect(out.units).toEqual({ sold: 2, held: 4, returned: 3, rejected: 6 });
    expect(out.holds.held + out.holds.paid + out.holds.expired + out.holds.cancelled).toBe(out.decided.confirmed);
    expect(out.units.sold + out.units.held + out.remaining).toBe(out.stock);
  });

  it('When nothing was bought, then every count is zero', () => {
    const out = foldOutcomes({ stock: 5, remaining: 5 }, [], { count: 0, units: 0 });
    expect(out).toEqual({
      stock: 5,
      remaining: 5,
      decided: { confirmed: 0, rejected: 0, byReason: {} },
      holds: { held: 0, paid: 0, expired: 0, cancelled: 0 },
      units: { sold: 0, held: 0, returned: 0, rejected: 0 },
      orders: { count: 0, units: 0 },
    });
  });
});
