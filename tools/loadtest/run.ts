import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { call as clientCall, ClientError, createProduct, createSaleOf, expectStatus as sharedExpectStatus, Reply } from '../client';
import type { SaleAudit } from '../../src/modules/sales/audit';
import { signToken } from '../../src/modules/auth/tokens';
import { LIMITS, LoadtestOptions } from './args';
import { bucketIndex, formatSummary, LatencyBucket, latencyBuckets, LoadtestResult, QueueCounts, renderHtml, SecondCounts } from './report';
import { AcceptedAttempt, auditVerdict, FinalStatus, Verdict } from './verdict';

/** A run that could not be carried out (engine unreachable, admin API refused, ...). */
export class RunError extends Error {
  override name = 'RunError';
}

export type LoadtestOutcome = {
  ok: boolean;
  verdict: Verdict;
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

/** Runs `fn` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

// ---------------------------------------------------------------- sale and shoppers

type Target = { base: string; admin: string };
type SaleInfo = { id: string; created: boolean; stock: number; perUserLimit: number };

async function fetchAudit(t: Target, saleId: string): Promise<SaleAudit> {
  const r = await call(t.base, 'GET', `/api/admin/sales/${saleId}/audit`, t.admin);
  if (r.status === 404) throw new RunError(`sale ${saleId} not found at ${t.base}`);
  expectStatus(r, 200, 'GET audit');
  if (typeof field(r.body, 'unitsOrdered') !== 'number') throw new RunError(`the audit endpoint answered an unexpected shape: ${JSON.stringify(r.body)}`);
  return r.body as SaleAudit;
}

async function prepareSale(t: Target, opts: LoadtestOptions, runId: string): Promise<SaleInfo> {
  if (opts.saleId) {
    const audit = await fetchAudit(t, opts.saleId);
    return { id: opts.saleId, created: false, stock: audit.stock, perUserLimit: audit.perUserLimit };
  }
  const timeoutMs = REQUEST_TIMEOUT_S * 1000;
  const id = await asRunError(async () => {
    const productId = await createProduct(t.base, t.admin, { sku: `LOADTEST-${runId}`, name: `Load test ${runId}`, priceCents: 100 }, timeoutMs);
    const sale = { name: `Load test ${runId}`, startsAt: new Date(Date.now() - 1000).toISOString(), stock: opts.stock, perUserLimit: opts.perUserLimit, priceCents: 100 };
    return createSaleOf(t.base, t.admin, productId, sale, timeoutMs);
  });
  return { id, created: true, stock: opts.stock, perUserLimit: opts.perUserLimit };
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
  perSecond: SecondCounts[];
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
  const seconds = new Map<number, SecondCounts>();
  const histogram = latencyBuckets();
  const clients: SteerableClient[] = [];
  let next = 0;
  let sent = 0;
  let answered = 0;
  let liveErrors = 0;
  let closing = false;
  let stoppedEarly: string | undefined;

  const perSecond = (): SecondCounts => {
    const second = Math.floor(Date.now() / 1000);
    let s = seconds.get(second);
    if (!s) seconds.set(second, (s = { second, admitted: 0, refused: {}, other: 0 }));
    return s;
  };
  const onResponse = (status: number, text: string, context: object) => {
    answered++;
    const bucket = perSecond();
    const user = shoppers[(context as AttemptContext).user ?? -1];
    let key = String(status);
    if (status === 202) {
      const body = safeJson(text);
      const purchaseId = field(body, 'purchaseId');
      const quantity = field(body, 'quantity');
      if (typeof purchaseId === 'string' && user) {
        accepted.push({ purchaseId, userId: user.id, quantity: typeof quantity === 'number' ? quantity : opts.quantity });
      } else key = '202 (unreadable body)';
      bucket.admitted++;
    } else if (status === 409) {
      const code = field(field(safeJson(text), 'error'), 'code');
      const name = typeof code === 'string' ? code : 'UNKNOWN';
      refusals[name] = (refusals[name] ?? 0) + 1;
      bucket.refused[name] = (bucket.refused[name] ?? 0) + 1;
    } else bucket.other++;
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
          perSecond: [...seconds.values()].sort((a, b) => a.second - b.second),
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
 * Runs one load test end to end: sale, shoppers, hammering, drain, final statuses, audit,
 * verdict, JSON + HTML. Throws RunError when the run cannot be carried out.
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

  const sale = await prepareSale(t, opts, runId);
  out.info(`loadtest ${runId}: ${sale.created ? 'created' : 'using'} sale ${sale.id} (stock ${sale.stock}, ${sale.perUserLimit} per shopper) at ${t.base}`);
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

  const audit = await fetchAudit(t, sale.id);
  const verdict = auditVerdict({
    stock: audit.stock,
    perUserLimit: audit.perUserLimit,
    accepted: h.accepted,
    finals,
    soldOutSeen: h.refusals.SOLD_OUT ?? 0,
    audit,
    exclusiveSale: sale.created,
    attemptQuantity: opts.quantity,
    unansweredAttempts: h.sent - h.answered,
  });

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
      unanswered: h.sent - h.answered,
      latencyMs: h.latencyMs,
      latencyHistogram: h.histogram,
      perSecond: h.perSecond,
      ...(h.stoppedEarly ? { stoppedEarly: h.stoppedEarly } : {}),
    },
    drain,
    finals: finalTally,
    audit,
    verdict,
  };
  const paths = await writeOutputs(opts.out, result);
  return { ok: verdict.ok, verdict, result, summary: formatSummary(result), ...paths };
}
