/** Load (autocannon): one run against one target, and the figures of its measured window. */
import autocannon from 'autocannon';
import { round1, round2 } from './context';
import type { TokenCursor } from './tokens';

/** Longest wait for every connection's first response before the window opens anyway. */
export const MAX_RAMP_S = 20;

export type Target = { url: string; method: 'GET' | 'POST'; body?: string; tokens: TokenCursor };

/** What the measured window of a run saw (autocannon's own totals include the warm-up). */
export type Sample = {
  latenciesMs: number[];
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  seconds: number;
  /** ms from the first request until every connection had its first response. */
  rampMs: number | null;
};

export type Length = { warmupS: number; durationS: number } | { amount: number };

type WindowHooks = { onOpen?: () => void; onClose?: () => void };

/**
 * One autocannon instance; every request carries the next shopper's token.
 *
 * With a warm-up, the measured window opens once the warm-up has passed AND every
 * connection has had a response: a saturated Node server leaves some of 100 fresh
 * connections unanswered for seconds (any Node server does; the cost per request sets how
 * long), and that ramp is not the steady state being measured. The window then runs for
 * `durationS` on the same connections and closes; only responses inside it count.
 */
export function runLoad(target: Target, connections: number, length: Length, hooks: WindowHooks = {}): Promise<Sample> {
  const setupRequest = (req: autocannon.Request): autocannon.Request => {
    req.headers = { ...req.headers, authorization: target.tokens.next() };
    return req;
  };
  const sample: Sample = { latenciesMs: [], statusCounts: {}, errors: 0, timeouts: 0, seconds: 0, rampMs: null };
  const windowed = 'warmupS' in length;
  const answered = new Set<object>();
  let phase: 'warmup' | 'window' | 'closed' = windowed ? 'warmup' : 'window';
  let warmedUp = !windowed || length.warmupS === 0;
  let startedAt = performance.now();
  let windowStart = startedAt;

  return new Promise<Sample>((resolve, reject) => {
    const closeWindow = () => {
      if (phase !== 'window') return;
      phase = 'closed';
      sample.seconds = (performance.now() - windowStart) / 1000;
      hooks.onClose?.();
    };
    const instance = autocannon(
      {
        url: target.url,
        method: target.method,
        connections,
        ...(target.body !== undefined ? { body: target.body, headers: { 'content-type': 'application/json' } } : {}),
        requests: [{ setupRequest }],
        // Windowed runs are stopped when the window closes; the duration is only a bound.
        ...(windowed ? { duration: length.warmupS + length.durationS + MAX_RAMP_S } : { amount: length.amount }),
      },
      (err: Error | null) => {
        if (err) return reject(err);
        if (phase === 'warmup') return reject(new Error(`the measured window never opened (${answered.size}/${connections} connections answered)`));
        closeWindow();
        resolve(sample);
      },
    );
    const openWindow = () => {
      if (phase !== 'warmup' || !warmedUp) return;
      if (answered.size < connections && performance.now() - startedAt < MAX_RAMP_S * 1000) return;
      phase = 'window';
      windowStart = performance.now();
      hooks.onOpen?.();
      if (windowed) {
        setTimeout(() => {
          closeWindow();
          instance.stop();
        }, length.durationS * 1000);
      }
    };
    instance.on('start', () => {
      startedAt = performance.now();
      windowStart = startedAt;
      if (!windowed) return hooks.onOpen?.();
      setTimeout(() => {
        warmedUp = true;
        openWindow();
      }, length.warmupS * 1000);
      setTimeout(openWindow, MAX_RAMP_S * 1000);
    });
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      const counted = phase === 'window';
      if (sample.rampMs === null) {
        answered.add(client);
        if (answered.size === connections) sample.rampMs = Math.round(performance.now() - startedAt);
        openWindow();
      }
      if (!counted) return;
      sample.latenciesMs.push(responseTime);
      sample.statusCounts[statusCode] = (sample.statusCounts[statusCode] ?? 0) + 1;
    });
    instance.on('reqError', (err: Error) => {
      if (phase !== 'window') return;
      sample.errors += 1;
      if (err.message === 'request timed out') sample.timeouts += 1;
    });
  });
}

export type Figures = {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  responses: number;
  expectedStatus: number;
  expected: number;
  /** Responses with another status, plus connection errors and timeouts. */
  unexpected: number;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  windowS: number;
  rampMs: number | null;
};

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function figures(sample: Sample, expectedStatus: number): Figures {
  const sorted = Float64Array.from(sample.latenciesMs).sort();
  const responses = sorted.length;
  const expected = sample.statusCounts[String(expectedStatus)] ?? 0;
  return {
    reqPerSec: Math.round(responses / sample.seconds),
    p50Ms: round1(percentile(sorted, 50)),
    p99Ms: round1(percentile(sorted, 99)),
    meanMs: round1(sorted.reduce((a, b) => a + b, 0) / Math.max(1, responses)),
    maxMs: round1(sorted[responses - 1] ?? NaN),
    responses,
    expectedStatus,
    expected,
    unexpected: responses - expected + sample.errors,
    statusCounts: sample.statusCounts,
    errors: sample.errors,
    timeouts: sample.timeouts,
    windowS: round2(sample.seconds),
    rampMs: sample.rampMs,
  };
}
