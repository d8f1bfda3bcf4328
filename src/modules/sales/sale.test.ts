import { saleStatus } from './sale';

describe('saleStatus', () => {
  const base = { startsAt: new Date('2026-01-01T10:00:00Z'), endsAt: new Date('2026-01-01T11:00:00Z'), cancelledAt: null };

  it('When the clock is before the start, then the sale is upcoming', () => {
    expect(saleStatus(base, 5, new Date('2026-01-01T09:59:59Z'))).toBe('upcoming');
  });
  it('When the sale is open with units left, then it is active; with none, sold_out', () => {
    const now = new Date('2026-01-01T10:30:00Z');
    expect(saleStatus(base, 1, now)).toBe('active');
    expect(saleStatus(base, 0, now)).toBe('sold_out');
  });
  it('When the end has passed, then it is ended even with units left', () => {
    expect(saleStatus(base, 3, new Date('2026-01-01T11:00:00Z'))).toBe('ended');
  });
  it('When cancelled, then cancelled wins over every other state', () => {
    expect(saleStatus({ ...base, cancelledAt: new Date() }, 3, new Date('2026-01-01T10:30:00Z'))).toBe('cancelled');
  });
});
