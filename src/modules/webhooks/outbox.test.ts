import { stockMarksChange } from './outbox';

describe('stock marks', () => {
  const none = { threshold: 3, lowNotified: false, soldOutNotified: false };
  it('When remaining crosses the threshold or 0, or climbs back above, then a mark changes; otherwise nothing is written', () => {
    expect(stockMarksChange(none, 4)).toBe(false);
    expect(stockMarksChange(none, 3)).toBe(true);
    expect(stockMarksChange({ ...none, lowNotified: true }, 2)).toBe(false);
    expect(stockMarksChange({ ...none, lowNotified: true }, 0)).toBe(true);
    expect(stockMarksChange({ ...none, lowNotified: true, soldOutNotified: true }, 0)).toBe(false);
    expect(stockMarksChange({ ...none, lowNotified: true }, 4)).toBe(true);
    expect(stockMarksChange({ threshold: null, lowNotified: false, soldOutNotified: false }, 5)).toBe(false);
  });
});
