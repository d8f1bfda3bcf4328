import { deliveryJobId, webhookBackoff } from './queue';

describe('webhook retry schedule', () => {
  it('When retries go on, then each waits between half and all of base x 2^(n-1), capped', () => {
    for (let n = 1; n <= 12; n++) {
      const ceiling = Math.min(3_600_000, 10_000 * 2 ** (n - 1));
      expect(webhookBackoff(n, 10_000, 3_600_000, () => 0)).toBe(ceiling / 2);
      expect(webhookBackoff(n, 10_000, 3_600_000, () => 1)).toBe(ceiling);
    }
  });

  it('When a delivery is replayed, then its job id changes (the dead job keeps the old one)', () => {
    expect(deliveryJobId('d1', 0)).toBe('d1');
    expect(deliveryJobId('d1', 2)).toBe('d1-r2');
  });
});
