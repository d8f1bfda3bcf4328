import type { SaleAudit } from '../../src/modules/sales/audit';
import type { SettleMode } from './args';
import { forEachLimited } from './limited';
import type { AcceptedAttempt, FinalStatus } from './verdict';

/** Statuses of a purchase the client saw confirmed (whatever became of its hold since). */
const SEEN_CONFIRMED = new Set(['confirmed', 'paid', 'expired', 'cancelled']);

/** What settling did: every purchase the run saw confirmed was paid, cancelled, or left to expire. */
export type SettleOutcome = {
  mode: SettleMode;
  /** The sale's hold time: what `leave` waits on. */
  holdSeconds: number;
  /** Purchases (and their units) the client saw confirmed: the ones settled. */
  seen: { purchases: number; units: number };
  /** Admitted purchases never seen decided (still queued, unknown): not settled. */
  undecided: number;
  /** Paid (pay) or cancelled (cancel), 200. */
  settled: { purchases: number; units: number };
  /** 409 PURCHASE_EXPIRED: the hold ran out before the settle reached it. */
  expired: { purchases: number; units: number };
  /** Any other answer (by status/code), after retries; with a few examples. */
  failed: { purchases: number; byCode: Record<string, number>; sample: string[] };
  durationMs: number;
  /** The audit read again after settling (not for `leave`). */
  after?: { held: number; sold: number; returned: number; remaining: { redis: number | null; postgres: number } };
  check: { ok: boolean; skipped?: boolean; detail: string };
};

/** One answer to a pay or cancel, as the settle tallies it. */
export type SettleAnswer = { kind: 'settled' } | { kind: 'expired' } | { kind: 'failed'; code: string };

/** The purchases to settle: every 202 polled in a confirmed status (paid, expired or cancelled included: the engine answers those idempotently or with PURCHASE_EXPIRED). */
export function settleTargets(accepted: AcceptedAttempt[], finals: Record<string, FinalStatus>): { targets: AcceptedAttempt[]; undecided: number } {
  const targets: AcceptedAttempt[] = [];
  let undecided = 0;
  for (const a of accepted) {
    const f = finals[a.purchaseId] ?? null;
    if (f && SEEN_CONFIRMED.has(f.status)) targets.push(a);
    else if (!f || f.status !== 'rejected') undecided++;
  }
  return { targets, undecided };
}

/** Reads a pay/cancel reply: 200 with the expected status, 409 PURCHASE_EXPIRED, or a failure named by its status and code. */
export function settleAnswer(mode: Exclude<SettleMode, 'leave'>, status: number | undefined, body: unknown): SettleAnswer {
  const want = mode === 'pay' ? 'paid' : 'cancelled';
  const get = (o: unknown, k: string): unknown => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined);
  if (status === undefined) return { kind: 'failed', code: 'no answer' };
  if (status === 200 && get(body, 'status') === want) return { kind: 'settled' };
  const code = get(get(body, 'error'), 'code');
  if (status === 409 && code === 'PURCHASE_EXPIRED') return { kind: 'expired' };
  return { kind: 'failed', code: `${status} ${typeof code === 'string' ? code : status === 200 ? `status ${String(get(body, 'status'))}` : ''}`.trim() };
}

/**
 * Judges the sale after settling, against the audit read before it (the verdict's) and after it. Pure.
 * pay: no hold left, and units sold == the units seen confirmed, less those whose hold ran out.
 * cancel: no hold left, and Redis remaining == PostgreSQL remaining == stock - sold.
 * leave: nothing to check (the holds expire by themselves).
 * `unseen`: purchases the engine may hold that the client could not settle (unanswered attempts,
 * 202s never seen decided): that many holds may remain, named in the detail.
 */
export function settleCheck(
  s: Omit<SettleOutcome, 'check' | 'after'>,
  before: SaleAudit,
  after: SaleAudit | undefined,
  ctx: { exclusiveSale: boolean; unseen: number },
): SettleOutcome['check'] {
  if (s.mode === 'leave' || !after) {
    return {
      ok: true,
      skipped: true,
      detail:
        `left ${s.seen.purchases} confirmed purchase(s) (${s.seen.units} units) unpaid: their holds expire ${s.holdSeconds} s after each confirmation, ` +
        'then their units come back on sale',
    };
  }
  const problems: string[] = [];
  if (s.failed.purchases > 0) problems.push(`${s.failed.purchases} ${s.mode} call(s) failed`);
  const held = after.holds.held;
  const heldAllowed = ctx.exclusiveSale ? ctx.unseen : Number.POSITIVE_INFINITY;
  if (held > heldAllowed) problems.push(`${held} hold(s) still open, expected ${heldAllowed === 0 ? 'none' : `at most ${heldAllowed}`}`);
  const { redis, postgres } = after.remaining;
  if (redis !== postgres) problems.push(`Redis remaining ${redis ?? 'missing'} != PostgreSQL remaining ${postgres}`);

  let facts: string;
  if (s.mode === 'pay') {
    // A sale of our own: every unit sold is one we saw confirmed and paid for (or the hold ran out first);
    // an existing sale: at least what we paid for came on top of what was sold before.
    const expected = ctx.exclusiveSale ? s.seen.units - s.expired.units : before.units.sold + s.settled.units;
    const sold = after.units.sold;
    if (ctx.exclusiveSale ? sold !== expected : sold < expected) {
      problems.push(
        ctx.exclusiveSale
          ? `units sold ${sold}, expected ${expected} (${s.seen.units} seen confirmed - ${s.expired.units} expired)`
          : `units sold ${sold}, expected at least ${expected} (${before.units.sold} before + ${s.settled.units} paid)`,
      );
    }
    facts = `units sold ${sold} (${s.seen.units} seen confirmed, ${s.settled.units} paid, ${s.expired.units} expired before payment)`;
  } else {
    const expected = after.stock - after.units.sold - after.units.held;
    if (postgres !== expected || redis !== expected) problems.push(`remaining should be stock ${after.stock} - sold ${after.units.sold}${after.units.held ? ` - held ${after.units.held}` : ''} = ${expected}`);
    facts = `${s.settled.units} units cancelled back on sale (${s.expired.units} had expired); remaining Redis ${redis ?? 'missing'}, PostgreSQL ${postgres} of ${after.stock} (sold ${after.units.sold})`;
  }
  const heldNote = held > 0 && problems.length === 0 ? `; ${held} hold(s) of purchases the client never saw decided will expire` : '';
  return { ok: problems.length === 0, detail: `holds open ${held}; ${facts}${heldNote}${problems.length ? ` -> ${problems.join('; ')}` : ''}` };
}

/** POSTs a pay or cancel for one purchase as its shopper; undefined when no answer came. */
export type SettleCall = (mode: Exclude<SettleMode, 'leave'>, purchaseId: string, token: string) => Promise<{ status: number; body: unknown } | undefined>;

const RETRIES = 3;
const SAMPLE = 5;

/**
 * Pays or cancels every target with its owner's token, `concurrency` at a time. A call that got
 * no answer, a 429 or a 5xx is tried again (pay and cancel are idempotent) up to 3 times.
 * `progress` is called about once a second while it runs.
 */
export async function settlePurchases(
  mode: Exclude<SettleMode, 'leave'>,
  targets: AcceptedAttempt[],
  tokenOf: Map<string, string>,
  post: SettleCall,
  opts: { concurrency: number; progress: (line: string) => void; endProgress: () => void },
): Promise<Pick<SettleOutcome, 'settled' | 'expired' | 'failed' | 'durationMs'>> {
  const started = Date.now();
  const settled = { purchases: 0, units: 0 };
  const expired = { purchases: 0, units: 0 };
  const failed = { purchases: 0, byCode: {} as Record<string, number>, sample: [] as string[] };
  let done = 0;
  const ticker = setInterval(() => {
    opts.progress(
      `[settle ${mode}] ${((Date.now() - started) / 1000).toFixed(0)}s  ${done}/${targets.length}  ` +
        `${mode === 'pay' ? 'paid' : 'cancelled'} ${settled.purchases}  expired ${expired.purchases}  failed ${failed.purchases}`,
    );
  }, 1000);
  try {
    await forEachLimited(targets, opts.concurrency, async (a) => {
      let answer: SettleAnswer = { kind: 'failed', code: 'no answer' };
      for (let attempt = 1; attempt <= RETRIES; attempt++) {
        const r = await post(mode, a.purchaseId, tokenOf.get(a.userId) ?? '').catch(() => undefined);
        answer = settleAnswer(mode, r?.status, r?.body);
        const retriable = !r || r.status === 429 || r.status >= 500;
        if (answer.kind !== 'failed' || !retriable) break;
        await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
      }
      done++;
      if (answer.kind === 'settled') {
        settled.purchases++;
        settled.units += a.quantity;
      } else if (answer.kind === 'expired') {
        expired.purchases++;
        expired.units += a.quantity;
      } else {
        failed.purchases++;
        failed.byCode[answer.code] = (failed.byCode[answer.code] ?? 0) + 1;
        if (failed.sample.length < SAMPLE) failed.sample.push(`${a.purchaseId}: ${answer.code}`);
      }
    });
  } finally {
    clearInterval(ticker);
    opts.endProgress();
  }
  return { settled, expired, failed, durationMs: Date.now() - started };
}
