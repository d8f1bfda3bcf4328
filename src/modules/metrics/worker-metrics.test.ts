import { Registry } from 'prom-client';
import { attemptOutcome, paymentResult } from './api-metrics';
import { createWorkerMetrics } from './worker-metrics';

const job = (purchaseId: string, admittedAt: number) => ({ purchaseId, saleId: 's', userId: 'u', quantity: 1, admittedAt, idempotencyKey: null });

describe('Metric labels and observations', () => {
  it('When an attempt or a payment is answered, then its label is the outcome, or the code the client saw', () => {
    expect(attemptOutcome(202, undefined)).toBe('admitted');
    expect(attemptOutcome(200, undefined)).toBe('replayed');
    expect(attemptOutcome(409, 'SOLD_OUT')).toBe('SOLD_OUT');
    expect(attemptOutcome(429, 'RATE_LIMITED')).toBe('RATE_LIMITED');
    expect(attemptOutcome(502, undefined)).toBe('HTTP_502');
    expect(paymentResult(200, undefined)).toBe('paid');
    expect(paymentResult(402, 'PAYMENT_DECLINED')).toBe('PAYMENT_DECLINED');
  });

  it('When a batch is decided, then confirmed and rejected are counted by reason, skipped ones not, and each decision is timed from its admission', async () => {
    const m = createWorkerMetrics(new Registry());
    const now = Date.now();
    m.outcomes(
      [job('a', now - 2000), job('b', now - 100), job('c', now - 50)],
      [
        { purchaseId: 'a', status: 'confirmed', orderId: 'o', holdExpiresAt: '' },
        { purchaseId: 'b', status: 'rejected', reason: 'SOLD_OUT' },
        { purchaseId: 'c', status: 'skipped' },
      ],
    );
    m.batch(3);
    const json = await m.registry.getMetricsAsJSON();
    const metric = (name: string) => json.find((x) => x.name === name)!.values as { value: number; labels: Record<string, unknown>; metricName?: string }[];
    expect(metric('flashsale_purchases_decided_total').filter((v) => v.value > 0).map((v) => [v.labels, v.value])).toEqual([
      [{ status: 'confirmed', reason: '' }, 1],
      [{ status: 'rejected', reason: 'SOLD_OUT' }, 1],
    ]);
    const decision = metric('flashsale_decision_seconds');
    expect(decision.find((v) => v.metricName === 'flashsale_decision_seconds_count')!.value).toBe(2);
    expect(decision.find((v) => v.metricName === 'flashsale_decision_seconds_sum')!.value).toBeGreaterThanOrEqual(2.1);
    expect(decision.find((v) => v.labels.le === 1)!.value).toBe(1); // b under 1 s, a over
    expect(metric('flashsale_group_commit_batch_size').find((v) => v.metricName === 'flashsale_group_commit_batch_size_sum')!.value).toBe(3);
  });
});
