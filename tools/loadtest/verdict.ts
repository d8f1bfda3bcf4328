import type { SaleAudit } from '../../src/modules/sales/audit';

/** One 202 the client saw. */
export type AcceptedAttempt = { purchaseId: string; userId: string; quantity: number };

/** The status a purchase was polled at after the drain; null: the engine did not know it (404) or never answered. */
export type FinalStatus = { status: string; reason?: string } | null;

/** Everything the audit judges: what the client saw, plus what PostgreSQL and the gate know (the audit endpoint). */
export type VerdictFacts = {
  stock: number;
  perUserLimit: number;
  accepted: AcceptedAttempt[];
  finals: Record<string, FinalStatus>;
  /** 409 SOLD_OUT replies seen: demand exceeded what was left. */
  soldOutSeen: number;
  audit: SaleAudit;
  /** The kit created the sale, so every purchase in PostgreSQL came from this run (checks 3, 5 and 8 compare exactly). */
  exclusiveSale: boolean;
  /** Units each attempt asked for (default 1): with no partial fills, fewer left than that is "sold out". */
  attemptQuantity?: number;
  /**
   * Units the sale's ended holds (expired, cancelled) had given back before the run (default 0).
   * More than that afterwards means units came back on sale during the run, after a SOLD_OUT
   * may have been answered: the undersell check is then skipped.
   */
  unitsReturnedBefore?: number;
  /**
   * Purchase attempts sent that never got a reply (timeouts, connection errors). The engine may have
   * admitted them, so PostgreSQL may hold up to this many purchases the client never saw (default 0).
   */
  unansweredAttempts?: number;
};

export type Check = { name: string; ok: boolean; detail: string; skipped?: boolean };
export type Verdict = { ok: boolean; checks: Check[] };

/** Check names, in the order they are reported. */
export const CHECKS = {
  oversell: 'no oversell',
  undersell: 'no undersell',
  accounting: 'confirmed == admitted - rejected',
  limit: 'per-user limit',
  duplicates: 'no duplicate orders',
  remaining: 'Redis remaining == PostgreSQL remaining',
  decided: 'every 202 left queued',
  unseen: 'no purchase the client did not see admitted',
} as const;

/** Confirmed, and the order still stands (held or paid). */
const STANDING = new Set(['confirmed', 'paid']);
/** Confirmed, then the hold ended (expired or cancelled): decided, the units given back. */
const ENDED = new Set(['expired', 'cancelled']);
const SAMPLE = 5;

const sample = (ids: string[]): string => (ids.length === 0 ? '' : ` (e.g. ${ids.slice(0, SAMPLE).join(', ')}${ids.length > SAMPLE ? ', …' : ''})`);
const sum = (xs: AcceptedAttempt[]): number => xs.reduce((n, a) => n + a.quantity, 0);

/** How the client's 202s ended, from the statuses polled after the drain. */
function classify(facts: VerdictFacts) {
  const confirmed: AcceptedAttempt[] = [];
  const ended: AcceptedAttempt[] = [];
  const rejectedWithReason: AcceptedAttempt[] = [];
  const rejectedWithoutReason: AcceptedAttempt[] = [];
  const missing: AcceptedAttempt[] = [];
  const queued: AcceptedAttempt[] = [];
  const other: AcceptedAttempt[] = [];
  for (const a of facts.accepted) {
    const final = facts.finals[a.purchaseId] ?? null;
    if (final === null) missing.push(a);
    else if (final.status === 'queued' || final.status === 'processing') queued.push(a);
    else if (STANDING.has(final.status)) confirmed.push(a);
    else if (ENDED.has(final.status)) ended.push(a);
    else if (final.status === 'rejected') (final.reason ? rejectedWithReason : rejectedWithoutReason).push(a);
    else other.push(a);
  }
  return { confirmed, ended, rejectedWithReason, rejectedWithoutReason, missing, queued, other };
}

/**
 * Judges a load-test run. Pure: the same facts always give the same verdict.
 * @example auditVerdict({ stock: 10, perUserLimit: 1, accepted, finals, soldOutSeen: 3, audit, exclusiveSale: true }).ok
 */
export function auditVerdict(facts: VerdictFacts): Verdict {
  const { audit, stock, perUserLimit, exclusiveSale } = facts;
  const c = classify(facts);
  const unanswered = facts.unansweredAttempts ?? 0;
  const quantity = facts.attemptQuantity ?? 1;
  const checks: Check[] = [];
  const add = (name: string, ok: boolean, detail: string, skipped = false) =>
    checks.push(skipped ? { name, ok, detail, skipped } : { name, ok, detail });

  // (1) No oversell: never more ordered (standing orders) than the stock, and ordered + remaining accounts for all of it.
  const ordered = audit.orders.units;
  const accounted = ordered + audit.remaining.postgres;
  add(
    CHECKS.oversell,
    ordered <= stock && accounted === stock,
    `ordered ${ordered} of ${stock}; ordered + PostgreSQL remaining (${audit.remaining.postgres}) = ${accounted}` +
      (accounted === stock ? '' : `, expected ${stock}`),
  );

  // (2) No undersell: when demand exceeded the stock and nothing was rejected by the worker, everything sold.
  const workerRejections = Math.max(audit.decided.rejected, c.rejectedWithReason.length + c.rejectedWithoutReason.length);
  const returnedDuring = audit.units.returned - (facts.unitsReturnedBefore ?? 0);
  if (facts.soldOutSeen === 0) add(CHECKS.undersell, true, 'skipped: no SOLD_OUT reply, demand never exceeded the stock', true);
  else if (workerRejections > 0)
    add(CHECKS.undersell, true, `skipped: ${workerRejections} purchase(s) rejected by the worker gave units back`, true);
  else if (returnedDuring > 0)
    add(CHECKS.undersell, true, `skipped: ended holds (expired, cancelled) gave ${returnedDuring} unit(s) back during the run`, true);
  else {
    const left = stock - ordered;
    add(
      CHECKS.undersell,
      left < quantity,
      `${facts.soldOutSeen} SOLD_OUT replies; ${ordered} of ${stock} units ordered, ${left} unsold` +
        (left < quantity ? '' : ` (an attempt for ${quantity} would have fit)`),
    );
  }

  // (3) Every admitted unit is accounted for: confirmed or rejected with a reason, and PostgreSQL agrees.
  // A purchase confirmed whose hold has already ended (expired, cancelled) was confirmed, but has no order any more.
  const unitsAccepted = sum(facts.accepted);
  const unitsConfirmed = sum(c.confirmed);
  const unitsEnded = sum(c.ended);
  const unitsRejected = sum(c.rejectedWithReason);
  const pgMatches = exclusiveSale
    ? ordered >= unitsConfirmed && ordered <= unitsConfirmed + unanswered * quantity
    : ordered >= unitsConfirmed;
  const balance = unitsAccepted === unitsConfirmed + unitsEnded + unitsRejected;
  add(
    CHECKS.accounting,
    pgMatches && balance,
    `admitted ${unitsAccepted} units = confirmed ${unitsConfirmed + unitsEnded}` +
      (unitsEnded ? ` (${unitsEnded} of them in holds that already ended)` : '') +
      ` + rejected with a reason ${unitsRejected}` +
      (balance ? '' : ` -> ${unitsAccepted - unitsConfirmed - unitsEnded - unitsRejected} unaccounted`) +
      `; PostgreSQL ordered ${ordered}` +
      (exclusiveSale ? (unanswered > 0 ? ` (up to ${unanswered * quantity} more allowed: ${unanswered} unanswered attempts)` : '') : ' (existing sale: at least)') +
      (c.rejectedWithoutReason.length ? `; ${c.rejectedWithoutReason.length} rejected without a reason${sample(c.rejectedWithoutReason.map((a) => a.purchaseId))}` : ''),
  );

  // (4) Nobody over the limit, in PostgreSQL and in what the client saw confirmed.
  const perUser = new Map<string, number>();
  for (const a of c.confirmed) perUser.set(a.userId, (perUser.get(a.userId) ?? 0) + a.quantity);
  const clientOver = [...perUser].filter(([, units]) => units > perUserLimit).map(([user]) => user);
  add(
    CHECKS.limit,
    audit.usersOverLimit === 0 && audit.maxUnitsPerUser <= perUserLimit && clientOver.length === 0,
    `limit ${perUserLimit}; most units one user holds: ${audit.maxUnitsPerUser}; users over the limit: ${audit.usersOverLimit}` +
      (clientOver.length ? `; confirmed to the client over the limit: ${clientOver.length}${sample(clientOver)}` : ''),
  );

  // (5) At most one order per purchase, and one purchase id per 202.
  const seen = new Set<string>();
  const repeated: string[] = [];
  for (const a of facts.accepted) {
    if (seen.has(a.purchaseId)) repeated.push(a.purchaseId);
    seen.add(a.purchaseId);
  }
  const orders = audit.orders.count;
  const ordersMatch = exclusiveSale ? orders >= c.confirmed.length && orders <= c.confirmed.length + unanswered : orders >= c.confirmed.length;
  add(
    CHECKS.duplicates,
    audit.purchasesWithMultipleOrders === 0 && audit.ordersNotConfirmed === 0 && ordersMatch && repeated.length === 0,
    `${orders} orders for ${c.confirmed.length} confirmed purchases the client saw; purchases with several orders: ${audit.purchasesWithMultipleOrders}; ` +
      `orders of unconfirmed purchases: ${audit.ordersNotConfirmed}` +
      (repeated.length ? `; purchase ids answered 202 more than once: ${repeated.length}${sample(repeated)}` : ''),
  );

  // (6) At quiescence the gate and PostgreSQL agree.
  const redis = audit.remaining.redis;
  add(
    CHECKS.remaining,
    redis === audit.remaining.postgres,
    `Redis ${redis === null ? 'missing (the sale is not loaded in the gate)' : redis}, PostgreSQL ${audit.remaining.postgres}`,
  );

  // (7) Every 202 reached a terminal status.
  const stuck = [...c.missing, ...c.queued, ...c.other];
  add(
    CHECKS.decided,
    stuck.length === 0,
    stuck.length === 0
      ? `all ${facts.accepted.length} admitted purchases ended confirmed or rejected` + (c.ended.length ? ` (${c.ended.length} confirmed holds already ended)` : '')
      : `${stuck.length} of ${facts.accepted.length} did not: ${c.queued.length} still queued, ${c.missing.length} not found` +
          (c.other.length ? `, ${c.other.length} in an unknown status` : '') +
          sample(stuck.map((a) => a.purchaseId)),
  );

  // (8) PostgreSQL knows no purchase the client was not told about (only meaningful on a sale of our own).
  const decided = audit.decided.confirmed + audit.decided.rejected;
  if (!exclusiveSale) add(CHECKS.unseen, true, 'skipped: existing sale, other clients may have bought', true);
  else
    add(
      CHECKS.unseen,
      decided >= facts.accepted.length && decided <= facts.accepted.length + unanswered,
      `PostgreSQL decided ${decided} purchases (${audit.decided.confirmed} confirmed, ${audit.decided.rejected} rejected); the client saw ${facts.accepted.length} 202s` +
        (unanswered > 0 ? ` and ${unanswered} attempts went unanswered` : ''),
    );

  return { ok: checks.every((ch) => ch.ok), checks };
}
