import type { SaleAudit } from '../../src/modules/sales/audit';
import { settleAnswer, settleCheck, SettleOutcome, settlePurchases, settleTargets } from './settle';
import { bucketReplies, chooseBucketMs, countReply, ReplyCounts } from './timeline';
import { formatTick, niceStep } from './chart';

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** A sale of 10 after the run: `held` units held, `sold` sold, the rest remaining in Redis and PostgreSQL. */
function audit(b: { held: number; sold?: number; returned?: number; redis?: number | null }): SaleAudit {
  const sold = b.sold ?? 0;
  const remaining = 10 - b.held - sold;
  return {
    saleId: id(999),
    stock: 10,
    perUserLimit: 1,
    remaining: { redis: b.redis === undefined ? remaining : b.redis, postgres: remaining },
    admitted: { purchases: 10, units: 10 },
    decided: { confirmed: 10, rejected: 0, byReason: {} },
    holds: { held: b.held, paid: sold, expired: b.returned ?? 0, cancelled: 0 },
    units: { sold, held: b.held, returned: b.returned ?? 0, rejected: 0 },
    orders: { count: b.held + sold, units: b.held + sold },
    maxUnitsPerUser: 1,
    usersOverLimit: 0,
    purchasesWithMultipleOrders: 0,
    ordersNotConfirmed: 0,
    decisionLatencyMs: { p50: 3, p99: 9, max: 12 },
    timeline: { bucketMs: 1000, points: [] },
  };
}

type Done = Omit<SettleOutcome, 'check' | 'after'>;
const done = (mode: Done['mode'], settled: number, expired = 0, failed = 0): Done => ({
  mode,
  holdSeconds: 600,
  seen: { purchases: 10, units: 10 },
  undecided: 0,
  settled: { purchases: settled, units: settled },
  expired: { purchases: expired, units: expired },
  failed: { purchases: failed, byCode: failed ? { '503 DATABASE_UNAVAILABLE': failed } : {}, sample: [] },
  durationMs: 100,
});
const own = { exclusiveSale: true, unseen: 0 };

describe('settleCheck', () => {
  it('When every confirmed purchase was paid, then no hold is left and sold == confirmed: pass', () => {
    expect(settleCheck(done('pay', 10), audit({ held: 10 }), audit({ held: 0, sold: 10 }), own)).toMatchObject({ ok: true });
  });

  it('When two holds ran out before their payment, then sold == confirmed - expired passes and is reported', () => {
    const check = settleCheck(done('pay', 8, 2), audit({ held: 10 }), audit({ held: 0, sold: 8, returned: 2 }), own);
    expect(check.ok).toBe(true);
    expect(check.detail).toMatch(/8 paid, 2 expired/);
  });

  it('When a hold is still open after paying, or fewer units are sold than paid for, then it fails', () => {
    expect(settleCheck(done('pay', 10), audit({ held: 10 }), audit({ held: 1, sold: 9 }), own)).toMatchObject({ ok: false, detail: expect.stringMatching(/1 hold\(s\) still open/) });
    expect(settleCheck(done('pay', 10), audit({ held: 10 }), audit({ held: 0, sold: 9 }), own).detail).toMatch(/units sold 9, expected 10/);
  });

  it('When a pay call failed, then the settle fails even if the books look right', () => {
    expect(settleCheck(done('pay', 9, 0, 1), audit({ held: 10 }), audit({ held: 1, sold: 9 }), { exclusiveSale: true, unseen: 1 })).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/1 pay call\(s\) failed/),
    });
  });

  it('When every purchase was cancelled, then remaining is the whole stock in Redis and PostgreSQL: pass; a Redis lag fails', () => {
    expect(settleCheck(done('cancel', 10), audit({ held: 10 }), audit({ held: 0, returned: 10 }), own).ok).toBe(true);
    expect(settleCheck(done('cancel', 10), audit({ held: 10 }), audit({ held: 0, returned: 10, redis: 9 }), own)).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/Redis remaining 9 != PostgreSQL remaining 10/),
    });
  });

  it('When the client could not see some purchases (unanswered attempts), then that many holds may stay open', () => {
    expect(settleCheck(done('cancel', 9), audit({ held: 10 }), audit({ held: 1, returned: 9 }), { exclusiveSale: true, unseen: 1 })).toMatchObject({
      ok: true,
      detail: expect.stringMatching(/1 hold\(s\) of purchases the client never saw decided will expire/),
    });
  });

  it('When the sale is not the run’s own, then other shoppers’ holds may remain and sold only has to grow by what was paid', () => {
    expect(settleCheck(done('pay', 10), audit({ held: 10 }), audit({ held: 0, sold: 10 }), { exclusiveSale: false, unseen: 0 }).ok).toBe(true);
  });

  it('When leaving, then nothing is checked and the detail says the holds expire after holdSeconds', () => {
    expect(settleCheck(done('leave', 0), audit({ held: 10 }), undefined, own)).toEqual({ ok: true, skipped: true, detail: expect.stringMatching(/expire 600 s/) });
  });
});

describe('settle calls', () => {
  it('When reading replies, then 200 with the target status settles, 409 PURCHASE_EXPIRED is expired, the rest fail by code', () => {
    expect(settleAnswer('pay', 200, { status: 'paid' })).toEqual({ kind: 'settled' });
    expect(settleAnswer('cancel', 200, { status: 'cancelled' })).toEqual({ kind: 'settled' });
    expect(settleAnswer('pay', 409, { error: { code: 'PURCHASE_EXPIRED' } })).toEqual({ kind: 'expired' });
    expect(settleAnswer('cancel', 409, { error: { code: 'PURCHASE_NOT_CANCELLABLE' } })).toEqual({ kind: 'failed', code: '409 PURCHASE_NOT_CANCELLABLE' });
    expect(settleAnswer('pay', undefined, undefined)).toEqual({ kind: 'failed', code: 'no answer' });
  });

  it('When choosing targets, then every purchase seen confirmed is one, rejected ones are not, undecided ones are counted', () => {
    const accepted = [0, 1, 2, 3].map((i) => ({ purchaseId: id(i), userId: `u${i}`, quantity: 1 }));
    const { targets, undecided } = settleTargets(accepted, {
      [id(0)]: { status: 'confirmed' },
      [id(1)]: { status: 'rejected', reason: 'SOLD_OUT' },
      [id(2)]: { status: 'queued' },
      [id(3)]: { status: 'expired' },
    });
    expect(targets.map((t) => t.purchaseId)).toEqual([id(0), id(3)]);
    expect(undecided).toBe(1);
  });

  it('When settling, then each purchase is posted with its owner’s token, no more than the concurrency at once, and a 503 is tried again', async () => {
    const targets = Array.from({ length: 12 }, (_, i) => ({ purchaseId: id(i), userId: `u${i}`, quantity: 2 }));
    const tokenOf = new Map(targets.map((t) => [t.userId, `token-${t.userId}`]));
    let inFlight = 0;
    let most = 0;
    const tries = new Map<string, number>();
    const result = await settlePurchases(
      'pay',
      targets,
      tokenOf,
      async (_mode, purchaseId, token) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await Promise.resolve();
        inFlight--;
        const n = (tries.get(purchaseId) ?? 0) + 1;
        tries.set(purchaseId, n);
        expect(token).toBe(`token-u${Number(purchaseId.slice(-12))}`);
        if (purchaseId === id(3) && n === 1) return { status: 503, body: { error: { code: 'DATABASE_UNAVAILABLE' } } };
        if (purchaseId === id(5)) return { status: 409, body: { error: { code: 'PURCHASE_EXPIRED' } } };
        return { status: 200, body: { status: 'paid' } };
      },
      { concurrency: 4, progress: () => undefined, endProgress: () => undefined },
    );
    expect(most).toBeLessThanOrEqual(4);
    expect(tries.get(id(3))).toBe(2);
    expect(result).toMatchObject({ settled: { purchases: 11, units: 22 }, expired: { purchases: 1, units: 2 }, failed: { purchases: 0 } });
  });
});

describe('report timeline buckets', () => {
  it('When choosing a bucket, then a short run gets 40-80 points and the size stays within the audit’s 10..60000 ms', () => {
    for (const spanMs of [800, 1_000, 2_500, 7_000, 33_000, 320_000, 4_800_000]) {
      const points = spanMs / chooseBucketMs(spanMs);
      expect(points).toBeGreaterThan(32);
      expect(points).toBeLessThanOrEqual(80);
    }
    expect(chooseBucketMs(2_500)).toBe(40);
    expect(chooseBucketMs(50)).toBe(10);
    expect(chooseBucketMs(100 * 3600_000)).toBe(60_000);
  });

  it('When summing 10 ms slots into buckets, then they align with the audit’s floor(ms / bucket) * bucket', () => {
    const slots = new Map<number, ReplyCounts>();
    countReply(slots, 1_000_005, { kind: 'admitted' });
    countReply(slots, 1_000_035, { kind: 'refused', code: 'SOLD_OUT' });
    countReply(slots, 1_000_045, { kind: 'other' });
    countReply(slots, 1_000_039, { kind: 'refused', code: 'SOLD_OUT' });
    expect(bucketReplies(slots, 40)).toEqual({
      bucketMs: 40,
      points: [
        { atMs: 1_000_000, admitted: 1, refused: { SOLD_OUT: 2 }, other: 0 },
        { atMs: 1_000_040, admitted: 0, refused: {}, other: 1 },
      ],
    });
  });

  it('When labelling axes, then steps are 1/2/2.5/5 x 10^k and ticks keep the decimals the step needs', () => {
    expect(niceStep(2.3, 10)).toBe(0.25);
    expect(niceStep(830, 5)).toBe(200);
    expect(formatTick(0.5, 0.25)).toBe('0.50');
    expect(formatTick(1500, 500)).toBe('1,500');
    expect(formatTick(25_000, 5000, true)).toBe('25k');
    expect(formatTick(12_500, 2500, true)).toBe('12.5k');
    expect(formatTick(0, 2500, true)).toBe('0');
  });
});
