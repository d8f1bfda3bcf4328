import fs from 'node:fs';
import path from 'node:path';
import { Answer, HealthSample } from './burst';
import { Settled, Snapshot } from './quiescence';

export type FaultWindow = { label: string; startedAt: number; endedAt: number };

export type Expect = {
  /** Readiness must answer 503 at some point during the fault and 200 again after it. */
  readyDownDuringFault: boolean;
  /** Every answer within this (ms): no request waits long on a reconnecting client. */
  latencyBoundMs: number;
  /** A new attempt on a sale with stock gets 202 within this long after the fault ends. */
  recoveryBoundMs: number;
  /** The fault is felt: at least this many attempts during it got something else than 202. */
  minFaultAnswers: number;
  /** API processes killed on purpose: their requests may end with no HTTP answer. */
  victims?: string[];
};

export type Verdict = { figures: Record<string, unknown>; violations: string[] };

const ATTEMPT_OK = new Set([202, 409, 503]);
const RETRY_OK = new Set([200, 202, 409, 503]);
const READ_OK = new Set([200, 503]);

const key = (a: Answer) => `${a.status}${a.code ? ` ${a.code}` : ''}`;

export function tally(answers: Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[key(a)] = (out[key(a)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((x, y) => y[1] - x[1]));
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const latency = (as: Answer[]) => {
  const ms = as.map((a) => a.ms);
  return { n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99), max: ms.length ? Math.max(...ms) : 0 };
};

/**
 * Judges one fault run against the engine's contract and returns its figures (for
 * artifacts/faults/<name>.json and docs/reliability.md) and every violation found, each a
 * sentence with the numbers that show it. An empty list is the pass.
 */
export function judge(input: {
  fault: FaultWindow;
  burstStartedAt: number;
  answers: Answer[];
  health: HealthSample[];
  settled: Settled;
  snap: Snapshot;
  expect: Expect;
  extra?: Record<string, unknown>;
}): Verdict {
  const { fault, answers, health, settled, snap, expect } = input;
  const v: string[] = [];
  const victims = new Set(expect.victims ?? []);
  const rel = (t: number) => t - input.burstStartedAt;
  const attempts = answers.filter((a) => a.kind === 'attempt');
  const retries = answers.filter((a) => a.kind === 'retry');
  const reads = answers.filter((a) => a.kind === 'readSale' || a.kind === 'readPurchase');
  const cut = answers.filter((a) => a.status === 0 && victims.has(a.target));
  const heard = answers.filter((a) => !(a.status === 0 && victims.has(a.target)));

  // 1. Only the contract's statuses; never a 500.
  const badAttempts = attempts.filter((a) => !(a.status === 0 && victims.has(a.target)) && !ATTEMPT_OK.has(a.status));
  if (badAttempts.length) v.push(`attempts answered outside 202/409/503: ${JSON.stringify(tally(badAttempts))}${sample(badAttempts)}`);
  const badRetries = retries.filter((a) => !RETRY_OK.has(a.status));
  if (badRetries.length) v.push(`keyed retries answered outside 200/202/409/503: ${JSON.stringify(tally(badRetries))}${sample(badRetries)}`);
  const badReads = reads.filter((a) => !(a.status === 0 && victims.has(a.target)) && !READ_OK.has(a.status));
  if (badReads.length) v.push(`reads answered outside 200/503: ${JSON.stringify(tally(badReads))}${sample(badReads)}`);
  const fiveHundreds = heard.filter((a) => a.status >= 500 && a.status !== 503);
  if (fiveHundreds.length) v.push(`${fiveHundreds.length} answers were 5xx other than 503: ${JSON.stringify(tally(fiveHundreds))}`);

  // 2. The envelope, and Retry-After on every 503.
  const noEnvelope = heard.filter((a) => a.status >= 400 && !a.envelope);
  if (noEnvelope.length) v.push(`${noEnvelope.length} error answers were not {"error":{"code","message"}}: ${JSON.stringify(tally(noEnvelope))}${sample(noEnvelope)}`);
  const noRetryAfter = heard.filter((a) => a.status === 503 && !a.retryAfter);
  if (noRetryAfter.length) v.push(`${noRetryAfter.length} 503 answers had no Retry-After: ${JSON.stringify(tally(noRetryAfter))}`);

  // 3. Answered fast.
  const slowest = [...heard].sort((a, b) => b.ms - a.ms)[0];
  if (slowest && slowest.ms > expect.latencyBoundMs) {
    const slow = heard.filter((a) => a.ms > expect.latencyBoundMs);
    v.push(`${slow.length} requests took over ${expect.latencyBoundMs} ms (max ${slowest.ms} ms, ${slowest.kind} ${key(slowest)} sent at +${rel(slowest.t0)} ms): ${JSON.stringify(tally(slow))}`);
  }

  // 4. The fault was felt (otherwise the run proves nothing).
  const during = attempts.filter((a) => a.t0 >= fault.startedAt && a.t0 <= fault.endedAt);
  const feltBy = during.filter((a) => a.status !== 202);
  if (feltBy.length < expect.minFaultAnswers) {
    v.push(`only ${feltBy.length} attempts sent during the fault got something other than 202 (wanted >= ${expect.minFaultAnswers}): ${JSON.stringify(tally(during))}`);
  }

  // 5. Liveness always; readiness down during the fault and up after it.
  const notLive = health.filter((h) => h.live !== 200 && !victims.has(h.target));
  if (notLive.length) v.push(`/api/health/live answered other than 200 ${notLive.length} times: ${JSON.stringify(countBy(notLive.map((h) => String(h.live))))}`);
  const readyDuring = health.filter((h) => h.t >= fault.startedAt && h.t + h.readyMs <= fault.endedAt && !victims.has(h.target));
  const readyDownSeen = readyDuring.some((h) => h.ready === 503);
  const readyUpAgain = health.find((h) => h.t >= fault.endedAt && h.ready === 200 && !victims.has(h.target));
  if (expect.readyDownDuringFault) {
    if (!readyDownSeen) v.push(`/api/health/ready never answered 503 during the fault (${readyDuring.length} samples: ${JSON.stringify(countBy(readyDuring.map((h) => String(h.ready))))})`);
    if (!readyUpAgain || readyUpAgain.t - fault.endedAt > expect.recoveryBoundMs) {
      v.push(`/api/health/ready was not 200 again within ${expect.recoveryBoundMs} ms of the fault's end (${readyUpAgain ? `${readyUpAgain.t - fault.endedAt} ms` : 'never'})`);
    }
  }
  const readyAfter = health.filter((h) => h.t >= fault.endedAt + expect.recoveryBoundMs && !victims.has(h.target));
  const readyFlapping = readyAfter.filter((h) => h.ready !== 200);
  if (readyFlapping.length) v.push(`/api/health/ready answered other than 200 ${readyFlapping.length} times more than ${expect.recoveryBoundMs} ms after the fault: ${JSON.stringify(countBy(readyFlapping.map((h) => String(h.ready))))}`);

  // 6. Service resumes without a restart.
  const firstAfter = attempts.find((a) => a.t0 >= fault.endedAt && a.status === 202);
  const recoveryMs = firstAfter ? firstAfter.t1 - fault.endedAt : null;
  if (recoveryMs === null || recoveryMs > expect.recoveryBoundMs) {
    v.push(`no attempt got 202 within ${expect.recoveryBoundMs} ms of the fault's end (${recoveryMs === null ? 'none at all' : `first after ${recoveryMs} ms`}); after the fault: ${JSON.stringify(tally(attempts.filter((a) => a.t0 >= fault.endedAt)))}`);
  }

  // 7. Every purchase-bearing answer ends decided; an error answer is never confirmed.
  const owned = answers.filter((a) => (a.kind === 'attempt' || a.kind === 'retry') && a.purchaseId);
  if (!settled.reached) {
    if (settled.undecided.length) v.push(`${settled.undecided.length} purchases answered 200/202 were still undecided in PostgreSQL ${settled.ms} ms after the fault's end (e.g. ${settled.undecided.slice(0, 3).join(', ')})`);
    if (settled.liveJobs !== 0) v.push(`the queue still held ${settled.liveJobs} live jobs at the deadline`);
  }
  const answerOf = new Map<string, Answer[]>();
  for (const a of answers.filter((x) => x.kind === 'attempt' || x.kind === 'retry')) answerOf.set(a.user, [...(answerOf.get(a.user) ?? []), a]);
  const confirmedAgainstError = snap.purchases.filter(
    (r) => r.status === 'confirmed' && !(answerOf.get(r.user_id) ?? []).some((a) => a.purchaseId === r.id),
  );
  if (confirmedAgainstError.length) {
    const how = countBy(confirmedAgainstError.map((r) => (answerOf.get(r.user_id) ?? []).map(key).join('+') || 'no answer recorded'));
    v.push(`${confirmedAgainstError.length} purchases were confirmed although their shopper's attempt was answered ${JSON.stringify(how)}`);
  }
  // A purchase whose shopper never heard of it (error answer, or no answer) is an orphan: rejected, ENQUEUE_FAILED.
  const orphansOtherwise = snap.purchases.filter(
    (r) =>
      r.status !== 'confirmed' && // counted above
      !(answerOf.get(r.user_id) ?? []).some((a) => a.purchaseId === r.id) &&
      !(r.status === 'rejected' && r.reason === 'ENQUEUE_FAILED'),
  );
  if (orphansOtherwise.length) {
    v.push(`${orphansOtherwise.length} purchases no shopper was told of ended other than rejected ENQUEUE_FAILED: ${JSON.stringify(countBy(orphansOtherwise.map((r) => `${r.status} ${r.reason ?? ''}`.trim())))}`);
  }
  const foreign = snap.purchases.filter((r) => (answerOf.get(r.user_id) ?? []).some((a) => a.purchaseId && a.purchaseId !== r.id));
  if (foreign.length) v.push(`${foreign.length} shoppers have a purchase row other than the one their 200/202 named (a second purchase for one attempt)`);

  // 8. Quiescence: nothing held, Redis == PostgreSQL, no oversell, no duplicate order.
  if (snap.gateOpenIds.length) {
    const byAnswer = countBy(snap.gateOpenIds.map((id) => {
      const a = owned.find((x) => x.purchaseId === id);
      return a ? key(a) : 'answered with an error or no answer';
    }));
    v.push(`${snap.gateOpenIds.length} purchases still held units in the gate (queued/processing) at quiescence, no job to decide them: ${JSON.stringify(byAnswer)}`);
  }
  const unitsLost = snap.pgRemaining - snap.redisRemaining;
  if (snap.redisRemaining !== snap.pgRemaining) {
    v.push(`Redis remaining ${snap.redisRemaining} != PostgreSQL remaining ${snap.pgRemaining} (units lost: ${unitsLost})`);
  }
  if (snap.sold + snap.pgRemaining !== snap.stock) v.push(`sold ${snap.sold} + PostgreSQL remaining ${snap.pgRemaining} != stock ${snap.stock}`);
  if (snap.sold > snap.stock) v.push(`oversold: ${snap.sold} units sold of ${snap.stock}`);
  if (snap.confirmed > snap.stock) v.push(`${snap.confirmed} purchases confirmed for a stock of ${snap.stock}`);
  if (snap.duplicateOrderPurchases) v.push(`${snap.duplicateOrderPurchases} duplicate orders.purchase_id`);
  if (snap.orders !== snap.confirmed) v.push(`${snap.orders} orders for ${snap.confirmed} confirmed purchases`);

  const figures = {
    fault: { label: fault.label, startMs: rel(fault.startedAt), durationMs: fault.endedAt - fault.startedAt },
    burst: { requests: answers.length, durationMs: Math.max(0, ...answers.map((a) => a.t1)) - input.burstStartedAt },
    attempts: tally(attempts),
    attemptsDuringFault: tally(during),
    reads: tally(reads),
    ...(retries.length ? { keyedRetries: tally(retries) } : {}),
    ...(cut.length ? { cutByKill: cut.length } : {}),
    latencyMs: { all: latency(heard), attempts: latency(heard.filter((a) => a.kind === 'attempt')), duringFault: latency(heard.filter((a) => a.t0 >= fault.startedAt && a.t0 <= fault.endedAt)) },
    recoveryMs,
    readiness: {
      samples: health.length,
      downDuringFault: readyDownSeen,
      upAgainAfterMs: readyUpAgain ? readyUpAgain.t - fault.endedAt : null,
      liveNot200: notLive.length,
    },
    settle: { reached: settled.reached, msAfterFaultEnd: settled.ms, undecided202: settled.undecided.length, gateOpen: settled.gateOpen, liveJobs: settled.liveJobs },
    quiescence: {
      stock: snap.stock,
      sold: snap.sold,
      pgRemaining: snap.pgRemaining,
      redisRemaining: snap.redisRemaining,
      unitsLost,
      confirmed: snap.confirmed,
      rejectedByReason: snap.rejectedByReason,
      orphansSettled: snap.rejectedByReason.ENQUEUE_FAILED ?? 0,
      gateOpen: snap.gateOpenIds.length,
      duplicateOrders: snap.duplicateOrderPurchases,
      queue: snap.queue,
    },
    ...(input.extra ?? {}),
  };
  return { figures, violations: v };
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

function sample(as: Answer[]): string {
  const s = as.find((a) => a.sample);
  return s ? ` (e.g. ${s.status}: ${s.sample})` : '';
}

/**
 * Writes artifacts/faults/<name>.json (figures and violations) and, for digging,
 * <name>.timeline.jsonl (every answer and health sample, times relative to the burst's
 * start), and prints one summary line.
 */
export function report(name: string, verdict: Verdict, raw?: { answers: Answer[]; health: HealthSample[]; origin: number }): void {
  const dir = path.join(__dirname, '..', '..', 'artifacts', 'faults');
  fs.mkdirSync(dir, { recursive: true });
  const at = new Date().toISOString();
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ name, at, ...verdict }, null, 2) + '\n');
  if (raw) {
    const lines = [
      ...raw.answers.map((a) => ({ ...a, t0: a.t0 - raw.origin, t1: a.t1 - raw.origin })),
      ...raw.health.map((h) => ({ kind: 'health', ...h, t: h.t - raw.origin })),
    ].sort((x, y) => ('t0' in x ? x.t0 : x.t) - ('t0' in y ? y.t0 : y.t));
    fs.writeFileSync(path.join(dir, `${name}.timeline.jsonl`), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  }
  const f = verdict.figures as any;
  console.log(
    `[fault ${name}] attempts ${JSON.stringify(f.attempts)}; max ${f.latencyMs.all.max} ms, p99 ${f.latencyMs.all.p99} ms; ` +
      `recovery ${f.recoveryMs ?? '-'} ms; settled ${f.settle.reached ? `in ${f.settle.msAfterFaultEnd} ms` : 'NO'}; ` +
      `units lost ${f.quiescence.unitsLost}; orphans settled ${f.quiescence.orphansSettled}; sold ${f.quiescence.sold}/${f.quiescence.stock}; ` +
      `violations ${verdict.violations.length}`,
  );
}
