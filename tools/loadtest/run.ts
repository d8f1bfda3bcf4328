import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { call as clientCall, ClientError, createProduct, createSaleOf, expectStatus as sharedExpectStatus, Reply } from '../client';
import type { SaleAudit } from '../../src/modules/sales/audit';
import { signToken } from '../../src/modules/auth/tokens';
import { LIMITS, LoadtestOptions, SettleMode } from './args';
import { forEachLimited } from './limited';
import { bucketIndex, formatSummary, LatencyBucket, latencyBuckets, LoadtestResult, QueueCounts, renderHtml } from './report';
import { settleCheck, SettleOutcome, settlePurchases, settleTargets } from './settle';
import { bucketReplies, chooseBucketMs, countReply, ReplyCounts } from './timeline';
import { AcceptedAttempt, auditVerdict, FinalStatus, Verdict } from './verdict';

/** A run that could not be carried out (engine unreachable, admin API refused, ...). */
export class RunError extends Error {
  override name = 'RunError';
}

export type LoadtestOutcome = {
  /** The audit passed and settling left what it should. */
  ok: boolean;
  verdict: Verdict;
  settle: SettleOutcome;
  result: LoadtestResult;
  summary: string;
  resultPath: string;
  reportPath: string;
};

/** Where the runner reports what it is doing: phase lines and the live progress line, both on stderr. */
export type Reporter = { info(line: string): void; progress(line: string): void; endProgress(): void };

const REQUEST_TIMEOUT_S = 10;
const POLL_CONCURRENCY = 50;
const POLL_EVERY_MS = 250;
/** Pays or cancels in flight at once while settling (each takes the sale's lock in PostgreSQL briefly). */
const SETTLE_CONCURRENCY = 16;

export function stderrReporter(quiet = false): Reporter {
  const tty = process.stderr.isTTY === true;
  let shown = false;
  let lastPrinted = 0;
  return {
    info: (line) => {
      if (quiet) return;
      if (shown) process.stderr.write('\n');
      shown = false;
      process.stderr.write(`${line}\n`);
    },
    progress: (line) => {
      if (quiet) return;
      if (tty) {
        process.stderr.write(`\r\x1b[2K${line}`);
        shown = true;
      } else if (Date.now() - lastPrinted >= 5000) {
        // Not a terminal (CI logs): one line every 5 s instead of overwriting.
        process.stderr.write(`${line}\n`);
        lastPrinted = Date.now();
      }
    },
    endProgress: () => {
      if (shown) process.stderr.write('\n');
      shown = false;
    },
  };
}

// ---------------------------------------------------------------- HTTP helpers

/** Runs `work`; a ClientError (no answer, an unexpected status) becomes a RunError, which the CLI prints without a stack. */
async function asRunError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw err instanceof ClientError ? new RunError(err.message) : err;
  }
}

/** Every request of the kit, as the admin or a shopper, with a timeout. */
const call = (base: string, method: string, urlPath: string, token: string, body?: unknown): Promise<Reply> =>
  asRunError(() => clientCall(base, method, urlPath, { token, body, timeoutMs: REQUEST_TIMEOUT_S * 1000 }));

function expectStatus(r: Reply, status: number, what: string): void {
  try {
    sharedExpectStatus(r, status, what);
  } catch (err) {
    throw err instanceof ClientError ? new RunError(err.message) : err;
  }
}

const field = (body: unknown, key: string): unknown =>
  typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- sale and shoppers

type Target = { base: string; admin: string };
type SaleInfo = LoadtestResult['sale'];

async function fetchAudit(t: Target, saleId: string, bucketMs?: number): Promise<SaleAudit> {
  const r = await call(t.base, 'GET', `/api/admin/sales/${saleId}/audit${bucketMs ? `?bucketMs=${bucketMs}` : ''}`, t.admin);
  if (r.status === 404) throw new RunError(`sale ${saleId} not found at ${t.base}`);
  expectStatus(r, 200, 'GET audit');
  if (typeof field(field(r.body, 'orders'), 'units') !== 'number' || !Array.isArray(field(field(r.body, 'timeline'), 'points'))) {
    throw new RunError(`the audit endpoint answered an unexpected shape: ${JSON.stringify(r.body)}`);
  }
  return r.body as SaleAudit;
}

/** The sale to hammer, as the admin API shows it, and (for an existing sale) its audit before the run. */
async function prepareSale(t: Target, opts: LoadtestOptions, runId: string): Promise<{ sale: SaleInfo; before?: SaleAudit }> {
  const timeoutMs = REQUEST_TIMEOUT_S * 1000;
  let id = opts.saleId;
  const before = id ? await fetchAudit(t, id) : undefined;
  if (!id) {
    id = await asRunError(async () => {
      const productId = await createProduct(t.base, t.admin, { sku: `LOADTEST-${runId}`, name: `Load test ${runId}`, priceCents: 100 }, timeoutMs);
      const sale = {
        name: `Load test ${runId}`,
        startsAt: new Date(Date.now() - 1000).toISOString(),
        stock: opts.stock,
        perUserLimit: opts.perUserLimit,
        priceCents: 100,
        // Out of the shop's list unless asked: shoppers browsing the shop never see a load test.
        listed: opts.listed ?? false,
      };
      return createSaleOf(t.base, t.admin, productId, sale, timeoutMs);
    });
  }
  const r = await call(t.base, 'GET', `/api/admin/sales/${id}`, t.admin);
  expectStatus(r, 200, 'GET /api/admin/sales/:id');
  const listed = field(r.body, 'listed');
  const holdSeconds = field(r.body, 'holdSeconds');
  const stock = field(r.body, 'stock');
  const perUserLimit = field(r.body, 'perUserLimit');
  if (typeof listed !== 'boolean' || typeof holdSeconds !== 'number' || typeof stock !== 'number' || typeof perUserLimit !== 'number') {
    throw new RunError(`GET /api/admin/sales/${id} answered an unexpected shape: ${JSON.stringify(r.body)}`);
  }
  return { sale: { id, created: !opts.saleId, stock, perUserLimit, listed, holdSeconds }, ...(before ? { before } : {}) };
}

type Shopper = { id: string; token: string };

function mintShoppers(opts: LoadtestOptions, runId: string): Shopper[] {
  // Valid through the longest possible hammering plus the drain, with room to spare.
  const ttl = LIMITS.durationS + opts.drainTimeoutS + 600;
  return Array.from({ length: opts.users }, (_, i) => {
    const id = `loadtest-${runId}-${i}`;
    return { id, token: signToken({ sub: id }, opts.jwtSecret, ttl) };
  });
}

// ---------------------------------------------------------------- hammering

type HammerOutcome = {
  accepted: AcceptedAttempt[];
  statusCounts: Record<string, number>;
  refusals: Record<string, number>;
  /** Replies per 10 ms slot (timeline.ts), summed into the report's buckets once the run's length is known. */
  slots: Map<number, ReplyCounts>;
  startedAtMs: number;
  /** When the last reply came (epoch ms); the start when none did. */
  lastReplyAtMs: number;
  histogram: LatencyBucket[];
  sent: number;
  answered: number;
  errors: number;
  timeouts: number;
  durationS: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  stoppedEarly?: string;
};

/** The parts of autocannon's Client the runner steers (not in its typings). */
type SteerableClient = { reqsMade: number; responseMax: number };
type AttemptContext = { user?: number };

function hammer(opts: LoadtestOptions, saleId: string, shoppers: Shopper[], out: Reporter): Promise<HammerOutcome> {
  const attempts = opts.mode.kind === 'attempts';
  const amount = opts.mode.kind === 'attempts' ? opts.mode.count : LIMITS.attempts;
  const closeAfterS = opts.mode.kind === 'duration' ? opts.mode.seconds : LIMITS.durationS;
  const accepted: AcceptedAttempt[] = [];
  const statusCounts: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const slots = new Map<number, ReplyCounts>();
  const histogram = latencyBuckets();
  const clients: SteerableClient[] = [];
  let next = 0;
  let sent = 0;
  let answered = 0;
  let liveErrors = 0;
  let closing = false;
  let stoppedEarly: string | undefined;

  let lastReplyAtMs = 0;
  const onResponse = (status: number, text: string, context: object) => {
    answered++;
    const now = Date.now();
    lastReplyAtMs = now;
    const user = shoppers[(context as AttemptContext).user ?? -1];
    let key = String(status);
    if (status === 202) {
      const body = safeJson(text);
      const purchaseId = field(body, 'purchaseId');
      const quantity = field(body, 'quantity');
      if (typeof purchaseId === 'string' && user) {
        accepted.push({ purchaseId, userId: user.id, quantity: typeof quantity === 'number' ? quantity : opts.quantity });
      } else key = '202 (unreadable body)';
      countReply(slots, now, { kind: 'admitted' });
    } else if (status === 409) {
      const code = field(field(safeJson(text), 'error'), 'code');
      const name = typeof code === 'string' ? code : 'UNKNOWN';
      refusals[name] = (refusals[name] ?? 0) + 1;
      countReply(slots, now, { kind: 'refused', code: name });
    } else countReply(slots, now, { kind: 'other' });
    statusCounts[key] = (statusCounts[key] ?? 0) + 1;
  };

  return new Promise<HammerOutcome>((resolve, reject) => {
    const started = Date.now();
    // Ends the run gracefully: every connection stops after the reply it is waiting for, so no
    // attempt is cut off in flight (the engine may have admitted it).
    const close = (why?: string) => {
      if (closing) return;
      closing = true;
      stoppedEarly = why;
      for (const c of clients) c.responseMax = Math.max(1, c.reqsMade);
    };
    const closeTimer = setTimeout(() => close(attempts ? `wall-clock cap of ${LIMITS.durationS} s reached` : undefined), closeAfterS * 1000);
    const hardStop = setTimeout(() => instance.stop(), (closeAfterS + REQUEST_TIMEOUT_S + 5) * 1000);
    let lastAnswered = 0;
    const ticker = setInterval(() => {
      const other = answered - (statusCounts['202'] ?? 0) - (statusCounts['409'] ?? 0);
      out.progress(
        `[hammer] ${((Date.now() - started) / 1000).toFixed(0)}s  ${answered - lastAnswered} req/s  sent ${sent}  ` +
          `202 ${statusCounts['202'] ?? 0}  409 ${statusCounts['409'] ?? 0}  other ${other}  errors ${liveErrors}`,
      );
      lastAnswered = answered;
    }, 1000);

    const instance = autocannon(
      {
        url: opts.url,
        connections: Math.min(opts.connections, amount),
        amount,
        timeout: REQUEST_TIMEOUT_S,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ quantity: opts.quantity }),
        setupClient: (client) => void clients.push(client as unknown as SteerableClient),
        requests: [
          {
            method: 'POST',
            path: `/api/sales/${saleId}/purchases`,
            setupRequest: (req, context) => {
              const user = next++ % shoppers.length;
              (context as AttemptContext).user = user;
              sent++;
              return { ...req, headers: { ...req.headers, authorization: `Bearer ${shoppers[user]!.token}` } };
            },
            onResponse: (status, body, context) => onResponse(status, body, context),
          },
        ],
      },
      (err, result) => {
        clearTimeout(closeTimer);
        clearTimeout(hardStop);
        clearInterval(ticker);
        out.endProgress();
        if (err) return reject(new RunError(`autocannon: ${err instanceof Error ? err.message : String(err)}`));
        resolve({
          accepted,
          statusCounts,
          refusals,
          slots,
          startedAtMs: started,
          lastReplyAtMs: Math.max(lastReplyAtMs, started),
          histogram,
          sent,
          answered,
          errors: result.errors,
          timeouts: result.timeouts,
          durationS: (Date.now() - started) / 1000,
          latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
          ...(stoppedEarly ? { stoppedEarly } : {}),
        });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => histogram[bucketIndex(responseTime)]!.count++);
    instance.on('reqError', () => liveErrors++);
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- drain, finals, audit

async function drainQueue(t: Target, saleId: string, deadline: number, out: Reporter): Promise<LoadtestResult['drain']> {
  const started = Date.now();
  let lastQueue: QueueCounts | null = null;
  for (;;) {
    const r = await call(t.base, 'GET', `/api/admin/sales/${saleId}/stats`, t.admin).catch(() => undefined);
    const q = r?.status === 200 ? field(r.body, 'queue') : undefined;
    if (q && typeof q === 'object') {
      lastQueue = q as QueueCounts;
      out.progress(`[drain] ${((Date.now() - started) / 1000).toFixed(1)}s  waiting ${lastQueue.waiting}  active ${lastQueue.active}  delayed ${lastQueue.delayed}`);
      if (lastQueue.waiting + lastQueue.active + lastQueue.delayed === 0) {
        out.endProgress();
        return { drained: true, waitedMs: Date.now() - started, lastQueue };
      }
    }
    if (Date.now() >= deadline) {
      out.endProgress();
      return { drained: false, waitedMs: Date.now() - started, lastQueue };
    }
    await sleep(POLL_EVERY_MS);
  }
}

/** Polls every admitted purchase with its owner's token until none is queued or the deadline passes. */
async function pollFinals(
  t: Target,
  accepted: AcceptedAttempt[],
  tokenOf: Map<string, string>,
  deadline: number,
  out: Reporter,
): Promise<Record<string, FinalStatus>> {
  const finals: Record<string, FinalStatus> = {};
  let pending = accepted;
  for (;;) {
    const still: AcceptedAttempt[] = [];
    await forEachLimited(pending, POLL_CONCURRENCY, async (a) => {
      const r = await call(t.base, 'GET', `/api/purchases/${a.purchaseId}`, tokenOf.get(a.userId) ?? '').catch(() => undefined);
      const status = r?.status === 200 ? field(r.body, 'status') : undefined;
      if (typeof status === 'string') {
        const reason = field(r!.body, 'reason');
        finals[a.purchaseId] = typeof reason === 'string' ? { status, reason } : { status };
        if (status === 'queued') still.push(a);
      } else {
        // 404 (the engine does not know it) or no answer: unknown so far.
        finals[a.purchaseId] = null;
        still.push(a);
      }
    });
    out.progress(`[finals] ${accepted.length - still.length}/${accepted.length} decided`);
    pending = still;
    if (pending.length === 0 || Date.now() >= deadline) break;
    await sleep(POLL_EVERY_MS);
  }
  out.endProgress();
  return finals;
}

function tallyFinals(accepted: AcceptedAttempt[], finals: Record<string, FinalStatus>, pollMs: number): LoadtestResult['finals'] {
  const tally: LoadtestResult['finals'] = { confirmed: 0, rejected: {}, queued: 0, notFound: 0, pollMs };
  for (const a of accepted) {
    const f = finals[a.purchaseId] ?? null;
    if (f === null) tally.notFound++;
    else if (f.status === 'queued') tally.queued++;
    else if (f.status === 'rejected') tally.rejected[f.reason ?? 'NO_REASON'] = (tally.rejected[f.reason ?? 'NO_REASON'] ?? 0) + 1;
    else if (f.status === 'confirmed' || f.status === 'paid') tally.confirmed++;
  }
  return tally;
}

// ---------------------------------------------------------------- output

async function writeOutputs(outDir: string, result: LoadtestResult): Promise<{ resultPath: string; reportPath: string }> {
  const dir = path.resolve(outDir);
  await mkdir(dir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const resultPath = path.join(dir, `result-${stamp}.json`);
  const reportPath = path.join(dir, `report-${stamp}.html`);
  await writeFile(resultPath, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(reportPath, renderHtml(result));
  await copyFile(resultPath, path.join(dir, 'latest.json'));
  await copyFile(reportPath, path.join(dir, 'latest.html'));
  return { resultPath, reportPath };
}

/**
 * The audit right after the run, its timeline in buckets chosen for the report's over-time chart:
 * about 40-80 from the start of the hammering to the last reply or decision, whichever came later
 * (asked again with a larger bucket when the decisions ran on long after the last reply).
 */
async function auditWithTimeline(t: Target, saleId: string, h: HammerOutcome): Promise<{ audit: SaleAudit; bucketMs: number }> {
  let bucketMs = chooseBucketMs(h.lastReplyAtMs - h.startedAtMs);
  let audit = await fetchAudit(t, saleId, bucketMs);
  const lastDecision = Math.max(0, ...audit.timeline.points.map((p) => p.atMs + bucketMs));
  const wider = chooseBucketMs(Math.max(h.lastReplyAtMs, lastDecision) - h.startedAtMs);
  if (wider !== bucketMs) {
    bucketMs = wider;
    audit = await fetchAudit(t, saleId, bucketMs);
  }
  return { audit, bucketMs };
}

/** Pays or cancels (or leaves) every purchase the run saw confirmed, then reads the audit again and checks what settling left. */
async function settle(
  t: Target,
  mode: SettleMode,
  sale: SaleInfo,
  accepted: AcceptedAttempt[],
  finals: Record<string, FinalStatus>,
  tokenOf: Map<string, string>,
  before: SaleAudit,
  unanswered: number,
  out: Reporter,
): Promise<SettleOutcome> {
  const { targets, undecided } = settleTargets(accepted, finals);
  const seen = { purchases: targets.length, units: targets.reduce((a, p) => a + p.quantity, 0) };
  const base = { mode, holdSeconds: sale.holdSeconds, seen, undecided };
  if (mode === 'leave') {
    out.info(
      `leaving ${seen.purchases} confirmed purchase(s) (${seen.units} units) unpaid (--settle leave): ` +
        `their holds expire ${sale.holdSeconds} s after confirmation, then their units come back on sale`,
    );
    const s = { ...base, settled: { purchases: 0, units: 0 }, expired: { purchases: 0, units: 0 }, failed: { purchases: 0, byCode: {}, sample: [] }, durationMs: 0 };
    return { ...s, check: settleCheck(s, before, undefined, { exclusiveSale: sale.created, unseen: unanswered + undecided }) };
  }
  out.info(`settling (--settle ${mode}): ${mode === 'pay' ? 'paying' : 'cancelling'} ${seen.purchases} confirmed purchase(s) as their shoppers, ${SETTLE_CONCURRENCY} at a time`);
  const post = (m: 'pay' | 'cancel', purchaseId: string, token: string) =>
    clientCall(t.base, 'POST', `/api/purchases/${purchaseId}/${m}`, {
      token,
      body: m === 'pay' ? { paymentToken: 'tok_approve' } : {},
      timeoutMs: REQUEST_TIMEOUT_S * 1000,
    });
  const done = await settlePurchases(mode, targets, tokenOf, post, {
    concurrency: SETTLE_CONCURRENCY,
    progress: (line) => out.progress(line),
    endProgress: () => out.endProgress(),
  });
  const after = await fetchAudit(t, sale.id);
  const s = { ...base, ...done };
  const outcome: SettleOutcome = {
    ...s,
    after: { held: after.holds.held, sold: after.units.sold, returned: after.units.returned, remaining: after.remaining },
    check: settleCheck(s, before, after, { exclusiveSale: sale.created, unseen: unanswered + undecided }),
  };
  out.info(
    `settled in ${(done.durationMs / 1000).toFixed(1)} s: ${done.settled.purchases} ${mode === 'pay' ? 'paid' : 'cancelled'}, ` +
      `${done.expired.purchases} expired, ${done.failed.purchases} failed; ${outcome.check.ok ? 'as expected' : 'NOT as expected'}`,
  );
  return outcome;
}

/**
 * Runs one load test end to end: sale, shoppers, hammering, drain, final statuses, audit,
 * verdict, settle (pay, cancel or leave what it bought), JSON + HTML. Throws RunError when the
 * run cannot be carried out.
 * @example const { ok, reportPath } = await runLoadtest(parseLoadtestArgs(argv).options)
 */
export async function runLoadtest(opts: LoadtestOptions, out: Reporter = stderrReporter(opts.quiet)): Promise<LoadtestOutcome> {
  const runId = randomBytes(4).toString('hex');
  const startedAt = new Date().toISOString();
  const t: Target = { base: opts.url, admin: signToken({ sub: 'loadtest-admin', role: 'admin' }, opts.jwtSecret) };

  const live = await call(t.base, 'GET', '/api/health/live', t.admin).catch((err: Error) => {
    throw new RunError(`cannot reach the engine at ${t.base}: ${err.message}`);
  });
  if (live.status >= 500) throw new RunError(`the engine at ${t.base} is not live (${live.status})`);

  const { sale, before } = await prepareSale(t, opts, runId);
  out.info(
    `loadtest ${runId}: ${sale.created ? 'created' : 'using'} sale ${sale.id} (stock ${sale.stock}, ${sale.perUserLimit} per shopper) at ${t.base}; ` +
      (sale.listed ? 'listed in the shop (GET /api/sales)' : `unlisted: not in the shop's GET /api/sales, reachable by id${sale.created ? ' (--listed to list it)' : ''}`),
  );
  const mintStart = Date.now();
  const shoppers = mintShoppers(opts, runId);
  out.info(`minted ${shoppers.length} shopper tokens in ${((Date.now() - mintStart) / 1000).toFixed(1)} s`);

  const goal = opts.mode.kind === 'attempts' ? `${opts.mode.count} attempts` : `${opts.mode.seconds} s`;
  out.info(`hammering POST /api/sales/${sale.id}/purchases: ${goal}, ${opts.connections} connections, quantity ${opts.quantity}`);
  const h = await hammer(opts, sale.id, shoppers, out);
  if ((h.statusCounts['429'] ?? 0) > 0) {
    out.info(`note: ${h.statusCounts['429']} attempts were rate limited (429); start the engine with RATE_LIMIT_USER_PER_MIN=0 RATE_LIMIT_IP_PER_MIN=0`);
  }

  const drainStart = Date.now();
  const deadline = drainStart + opts.drainTimeoutS * 1000;
  out.info(`waiting for the queue to drain (at most ${opts.drainTimeoutS} s)`);
  const drain = await drainQueue(t, sale.id, deadline, out);
  const pollStart = Date.now();
  const tokenOf = new Map(shoppers.map((s) => [s.id, s.token]));
  const finals = await pollFinals(t, h.accepted, tokenOf, Math.max(deadline, Date.now() + 5000), out);
  const finalTally = tallyFinals(h.accepted, finals, Date.now() - pollStart);

  const { audit, bucketMs } = await auditWithTimeline(t, sale.id, h);
  const unanswered = h.sent - h.answered;
  const verdict = auditVerdict({
    stock: audit.stock,
    perUserLimit: audit.perUserLimit,
    accepted: h.accepted,
    finals,
    soldOutSeen: h.refusals.SOLD_OUT ?? 0,
    audit,
    exclusiveSale: sale.created,
    attemptQuantity: opts.quantity,
    unansweredAttempts: unanswered,
    unitsReturnedBefore: before?.units.returned ?? 0,
  });
  out.info(`audit ${verdict.ok ? 'PASS' : 'FAIL'} (${verdict.checks.filter((c) => c.ok).length}/${verdict.checks.length} checks)`);

  const settled = await settle(t, opts.settle ?? 'pay', sale, h.accepted, finals, tokenOf, audit, unanswered, out);
  const ok = verdict.ok && settled.check.ok;

  const result: LoadtestResult = {
    runId,
    startedAt,
    finishedAt: new Date().toISOString(),
    target: t.base,
    sale,
    settings: { users: opts.users, connections: opts.connections, quantity: opts.quantity, mode: opts.mode, drainTimeoutS: opts.drainTimeoutS },
    hammer: {
      durationS: h.durationS,
      attemptsSent: h.sent,
      responses: h.answered,
      reqPerSec: h.answered / Math.max(h.durationS, 0.001),
      statusCounts: h.statusCounts,
      refusals: h.refusals,
      errors: h.errors,
      timeouts: h.timeouts,
      unanswered,
      latencyMs: h.latencyMs,
      latencyHistogram: h.histogram,
      startedAtMs: h.startedAtMs,
      lastReplyAtMs: h.lastReplyAtMs,
      timeline: bucketReplies(h.slots, bucketMs),
      ...(h.stoppedEarly ? { stoppedEarly: h.stoppedEarly } : {}),
    },
    drain,
    finals: finalTally,
    audit,
    verdict,
    settle: settled,
    ok,
  };
  const paths = await writeOutputs(opts.out, result);
  return { ok, verdict, settle: settled, result, summary: formatSummary(result), ...paths };
}
