import type { SaleAudit } from '../../src/modules/sales/audit';
import { auditVerdict, CHECKS, VerdictFacts } from './verdict';

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

/** A clean run: stock 10, limit 1, 10 shoppers admitted and confirmed, 5 more told SOLD_OUT. */
function cleanRun(): VerdictFacts {
  const accepted = Array.from({ length: 10 }, (_, i) => ({ purchaseId: id(i), userId: `u${i}`, quantity: 1 }));
  const audit: SaleAudit = {
    saleId: id(999),
    stock: 10,
    perUserLimit: 1,
    remaining: { redis: 0, postgres: 0 },
    admitted: { purchases: 10, units: 10 },
    decided: { confirmed: 10, rejected: 0, byReason: {} },
    holds: { held: 10, paid: 0, expired: 0, cancelled: 0 },
    units: { sold: 0, held: 10, returned: 0, rejected: 0 },
    orders: { count: 10, units: 10 },
    maxUnitsPerUser: 1,
    usersOverLimit: 0,
    purchasesWithMultipleOrders: 0,
    ordersNotConfirmed: 0,
    decisionLatencyMs: { p50: 3, p99: 9, max: 12 },
    timeline: { bucketMs: 1000, points: [{ atMs: 1_800_000_000_000, confirmed: 10, rejected: 0 }] },
  };
  return {
    stock: 10,
    perUserLimit: 1,
    accepted,
    finals: Object.fromEntries(accepted.map((a) => [a.purchaseId, { status: 'confirmed' }])),
    soldOutSeen: 5,
    audit,
    exclusiveSale: true,
  };
}

/**
 * The audit after `confirmed` purchases of 1 unit were confirmed (held, unpaid) and `rejected` rejected:
 * decided, holds, units and standing orders agree unless `orders` says otherwise.
 */
function books(
  audit: SaleAudit,
  b: { confirmed: number; rejected?: number; byReason?: Record<string, number>; orders?: number; remaining?: SaleAudit['remaining'] },
): SaleAudit {
  const rejected = b.rejected ?? 0;
  const orders = b.orders ?? b.confirmed;
  return {
    ...audit,
    decided: { confirmed: b.confirmed, rejected, byReason: b.byReason ?? {} },
    holds: { held: b.confirmed, paid: 0, expired: 0, cancelled: 0 },
    units: { sold: 0, held: b.confirmed, returned: 0, rejected },
    orders: { count: orders, units: orders },
    ...(b.remaining ? { remaining: b.remaining } : {}),
  };
}

const failing = (facts: VerdictFacts) =>
  auditVerdict(facts)
    .checks.filter((c) => !c.ok)
    .map((c) => c.name);

describe('auditVerdict', () => {
  it('When the run is clean, then every check passes', () => {
    const verdict = auditVerdict(cleanRun());
    expect(verdict.ok).toBe(true);
    expect(verdict.checks.map((c) => c.name)).toEqual(Object.values(CHECKS));
    expect(verdict.checks.every((c) => c.ok && !c.skipped)).toBe(true);
  });

  it('When an eleventh unit was confirmed on a stock of 10 (planted oversell), then "no oversell" fails', () => {
    const f = cleanRun();
    f.accepted.push({ purchaseId: id(10), userId: 'u10', quantity: 1 });
    f.finals[id(10)] = { status: 'confirmed' };
    f.audit = books(f.audit, { confirmed: 11 });
    const verdict = auditVerdict(f);
    expect(verdict.ok).toBe(false);
    expect(failing(f)).toContain(CHECKS.oversell);
    expect(verdict.checks.find((c) => c.name === CHECKS.oversell)!.detail).toMatch(/ordered 11 of 10/);
  });

  it('When PostgreSQL holds two orders for one purchase (planted duplicate), then "no duplicate orders" fails', () => {
    const f = cleanRun();
    f.audit = { ...f.audit, orders: { count: 11, units: 10 }, purchasesWithMultipleOrders: 1 };
    expect(auditVerdict(f).ok).toBe(false);
    expect(failing(f)).toEqual([CHECKS.duplicates]);
  });

  it('When there is one order more than confirmed purchases, even without a repeated purchase id, then "no duplicate orders" fails', () => {
    const f = cleanRun();
    f.audit = { ...f.audit, orders: { count: 11, units: 10 } };
    expect(failing(f)).toEqual([CHECKS.duplicates]);
  });

  it('When the server answered 202 twice with the same purchase id, then "no duplicate orders" fails', () => {
    const f = cleanRun();
    f.accepted[1] = { ...f.accepted[1]!, purchaseId: id(0) };
    expect(failing(f)).toContain(CHECKS.duplicates);
  });

  it('When a 202 is not found afterwards (planted lost purchase), then "every 202 left queued" fails and names it', () => {
    const f = cleanRun();
    f.finals[id(3)] = null;
    f.audit = books(f.audit, { confirmed: 9, remaining: { redis: 1, postgres: 1 } });
    const verdict = auditVerdict(f);
    expect(verdict.ok).toBe(false);
    expect(failing(f)).toContain(CHECKS.decided);
    expect(failing(f)).toContain(CHECKS.accounting);
    expect(failing(f)).toContain(CHECKS.unseen);
    expect(verdict.checks.find((c) => c.name === CHECKS.decided)!.detail).toContain(id(3));
  });

  it('When a 202 is still queued after the drain, then "every 202 left queued" fails', () => {
    const f = cleanRun();
    f.finals[id(4)] = { status: 'queued' };
    f.audit = books(f.audit, { confirmed: 9, remaining: { redis: 0, postgres: 1 } });
    expect(failing(f)).toContain(CHECKS.decided);
    expect(auditVerdict(f).checks.find((c) => c.name === CHECKS.decided)!.detail).toMatch(/1 still queued/);
  });

  it('When a 202 has no final status at all (missing from finals), then it counts as lost', () => {
    const f = cleanRun();
    delete f.finals[id(5)];
    expect(failing(f)).toContain(CHECKS.decided);
  });

  it('When one user holds 2 units on a limit of 1, then "per-user limit" fails', () => {
    const f = cleanRun();
    f.accepted[1] = { ...f.accepted[1]!, userId: 'u0' };
    f.audit = { ...f.audit, maxUnitsPerUser: 2, usersOverLimit: 1 };
    expect(auditVerdict(f).ok).toBe(false);
    expect(failing(f)).toEqual([CHECKS.limit]);
  });

  it('When only the client sees a user confirmed over the limit, then "per-user limit" still fails', () => {
    const f = cleanRun();
    f.accepted[1] = { ...f.accepted[1]!, userId: 'u0' };
    expect(failing(f)).toEqual([CHECKS.limit]);
  });

  it('When Redis remaining differs from PostgreSQL remaining, then that check fails', () => {
    const f = cleanRun();
    f.audit = { ...f.audit, remaining: { redis: 1, postgres: 0 } };
    expect(auditVerdict(f).ok).toBe(false);
    expect(failing(f)).toEqual([CHECKS.remaining]);
  });

  it('When Redis no longer holds the sale, then Redis != PostgreSQL fails', () => {
    const f = cleanRun();
    f.audit = { ...f.audit, remaining: { redis: null, postgres: 0 } };
    expect(failing(f)).toEqual([CHECKS.remaining]);
  });

  it('When demand exceeded stock, nothing was rejected, and a unit is left unsold, then "no undersell" fails', () => {
    const f = cleanRun();
    f.accepted.pop();
    f.finals = Object.fromEntries(f.accepted.map((a) => [a.purchaseId, { status: 'confirmed' }]));
    f.audit = books(f.audit, { confirmed: 9, remaining: { redis: 1, postgres: 1 } });
    expect(failing(f)).toEqual([CHECKS.undersell]);
  });

  it('When a unit is left but attempts asked for 2 (no partial fills), then that is not an undersell', () => {
    const f = cleanRun();
    f.accepted.pop();
    f.finals = Object.fromEntries(f.accepted.map((a) => [a.purchaseId, { status: 'confirmed' }]));
    f.audit = books(f.audit, { confirmed: 9, remaining: { redis: 1, postgres: 1 } });
    expect(failing({ ...f, attemptQuantity: 2 })).toEqual([]);
  });

  it('When the worker rejected a purchase with a reason, then the books balance and "no undersell" is skipped', () => {
    const f = cleanRun();
    f.finals[id(9)] = { status: 'rejected', reason: 'PROCESSING_FAILED' };
    f.audit = books(f.audit, { confirmed: 9, rejected: 1, byReason: { PROCESSING_FAILED: 1 }, remaining: { redis: 1, postgres: 1 } });
    const verdict = auditVerdict(f);
    expect(verdict.ok).toBe(true);
    expect(verdict.checks.find((c) => c.name === CHECKS.undersell)!.skipped).toBe(true);
  });

  it('When a purchase is rejected without a reason, then the accounting check fails', () => {
    const f = cleanRun();
    f.finals[id(9)] = { status: 'rejected' };
    f.audit = books(f.audit, { confirmed: 9, rejected: 1, remaining: { redis: 1, postgres: 1 } });
    expect(failing(f)).toEqual([CHECKS.accounting]);
  });

  it('When PostgreSQL confirmed a purchase the client never saw admitted (e.g. answered 503), then the last check fails', () => {
    const f = cleanRun();
    f.accepted.pop();
    delete f.finals[id(9)];
    expect(failing(f)).toEqual(expect.arrayContaining([CHECKS.unseen, CHECKS.accounting, CHECKS.duplicates]));
  });

  it('When attempts went unanswered (timeouts), then PostgreSQL may hold that many purchases the client never saw', () => {
    const f = cleanRun();
    f.accepted.pop();
    delete f.finals[id(9)];
    expect(failing({ ...f, unansweredAttempts: 1 })).toEqual([]);
  });

  it('When the sale is not exclusive to the run, then the unseen-purchase check is skipped and totals are lower bounds', () => {
    const f = cleanRun();
    f.accepted.splice(5);
    f.finals = Object.fromEntries(f.accepted.map((a) => [a.purchaseId, { status: 'confirmed' }]));
    const verdict = auditVerdict({ ...f, exclusiveSale: false });
    expect(verdict.ok).toBe(true);
    expect(verdict.checks.find((c) => c.name === CHECKS.unseen)!.skipped).toBe(true);
    expect(failing({ ...f, exclusiveSale: true })).toEqual(expect.arrayContaining([CHECKS.unseen, CHECKS.accounting]));
  });
  it('When some purchases are paid already, then they count as confirmed with standing orders and every check passes', () => {
    const f = cleanRun();
    for (const a of f.accepted.slice(0, 4)) f.finals[a.purchaseId] = { status: 'paid' };
    f.audit = { ...f.audit, holds: { held: 6, paid: 4, expired: 0, cancelled: 0 }, units: { sold: 4, held: 6, returned: 0, rejected: 0 } };
    expect(failing(f)).toEqual([]);
  });

  it('When a confirmed hold expired during the run, then it was decided (confirmed), its order is gone and "no undersell" is skipped', () => {
    const f = cleanRun();
    f.finals[id(2)] = { status: 'expired' };
    f.audit = {
      ...f.audit,
      remaining: { redis: 1, postgres: 1 },
      holds: { held: 9, paid: 0, expired: 1, cancelled: 0 },
      units: { sold: 0, held: 9, returned: 1, rejected: 0 },
      orders: { count: 9, units: 9 },
    };
    const verdict = auditVerdict(f);
    expect(verdict.checks.filter((c) => !c.ok)).toEqual([]);
    expect(verdict.checks.find((c) => c.name === CHECKS.undersell)).toMatchObject({ skipped: true, detail: expect.stringMatching(/gave 1 unit/) });
    expect(verdict.checks.find((c) => c.name === CHECKS.accounting)!.detail).toMatch(/1 of them in holds that already ended/);
    // Units that came back before the run do not excuse a unit left unsold after a SOLD_OUT.
    expect(failing({ ...f, unitsReturnedBefore: 1 })).toEqual([CHECKS.undersell]);
  });

  it('When a standing order has no confirmed purchase behind it, then "no duplicate orders" fails', () => {
    const f = cleanRun();
    f.audit = { ...f.audit, ordersNotConfirmed: 1 };
    expect(failing(f)).toEqual([CHECKS.duplicates]);
  });
});
