import { performance } from 'node:perf_hooks';
import { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { METRIC_PREFIX, registerSharedMetrics, SharedMetrics } from '../../lib/metrics';
import { errorCodeOf } from '../../http/error-code';

/** What an API process measures (a worker's counterpart: worker-metrics.ts). */
export type ApiMetrics = SharedMetrics & {
  registry: Registry;
  /** On the attempt route, first: counts the answer by outcome and times it (at `finish`, not in the use-case). */
  countAttempt: (req: Request, res: Response, next: NextFunction) => void;
  /** On the pay route: counts the answer by result. */
  countPayment: (req: Request, res: Response, next: NextFunction) => void;
  /** The sold-out lane answered an attempt before Express (http/sold-out-lane.ts). */
  soldOutLaneAnswered: () => void;
  /** Names the source of the socket connection gauge (read at scrape). */
  countSockets: (count: () => number) => void;
};

/** Seconds, from a sold-out refusal (~0.2 ms) to a stalled Redis (the 0.5 s command timeout, twice). */
const ADMISSION_BUCKETS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * The outcome label of an attempt's answer: `admitted` (202), `replayed` (200: the same
 * Idempotency-Key again), else the error code the client saw (SOLD_OUT, LIMIT_EXCEEDED,
 * RATE_LIMITED, OVERLOADED, ...): a closed set, the codes the OpenAPI document lists.
 */
export function attemptOutcome(status: number, code: string | undefined): string {
  if (status === 202) return 'admitted';
  if (status === 200) return 'replayed';
  return code ?? `HTTP_${status}`;
}

/** A payment answer's result label: `paid` (200), else its error code (PAYMENT_DECLINED, PAYMENT_TIMEOUT, PURCHASE_EXPIRED, ...). */
export function paymentResult(status: number, code: string | undefined): string {
  return status === 200 ? 'paid' : (code ?? `HTTP_${status}`);
}

/**
 * Registers the API's instruments on `registry`. Counting happens at the response
 * (`res` 'finish'), so admission and payment code stay free of metrics; a label's
 * child is looked up once and kept, so a count is one Map lookup and an add.
 */
export function createApiMetrics(registry: Registry): ApiMetrics {
  const attempts = new Counter({
    name: `${METRIC_PREFIX}purchase_attempts_total`,
    help: 'Purchase attempts answered, by outcome: admitted (202), replayed (200, same Idempotency-Key), or the error code (409 codes, RATE_LIMITED, OVERLOADED, ...); sold-out lane answers included',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const admission = new Histogram({
    name: `${METRIC_PREFIX}admission_duration_seconds`,
    help: 'Time from the attempt reaching Express to its answer being written (the sold-out lane, answered before Express, is counted in attempts but not timed here)',
    buckets: ADMISSION_BUCKETS,
    registers: [registry],
  });
  const payments = new Counter({
    name: `${METRIC_PREFIX}payments_total`,
    help: 'Payment answers, by result: paid (200; a repeated pay of a paid purchase too) or the error code (PAYMENT_DECLINED, PAYMENT_TIMEOUT, PURCHASE_EXPIRED, ...)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  let sockets: () => number = () => 0;
  new Gauge({
    name: `${METRIC_PREFIX}socket_connections`,
    help: 'Socket.io connections open on this API process',
    registers: [registry],
    collect() {
      this.set(sockets());
    },
  });

  const attemptChildren = new Map<string, Counter.Internal>();
  const attemptChild = (outcome: string) => {
    let child = attemptChildren.get(outcome);
    if (!child) attemptChildren.set(outcome, (child = attempts.labels(outcome)));
    return child;
  };
  // Zero series for the common outcomes, so rate() and alerts see them from the first scrape.
  for (const o of ['admitted', 'SOLD_OUT', 'RATE_LIMITED', 'OVERLOADED']) attemptChild(o).inc(0);

  return {
    ...registerSharedMetrics(registry),
    registry,
    countAttempt: (_req, res, next) => {
      const started = performance.now();
      res.once('finish', () => {
        admission.observe((performance.now() - started) / 1000);
        attemptChild(attemptOutcome(res.statusCode, errorCodeOf(res))).inc();
      });
      next();
    },
    countPayment: (_req, res, next) => {
      res.once('finish', () => payments.labels(paymentResult(res.statusCode, errorCodeOf(res))).inc());
      next();
    },
    soldOutLaneAnswered: () => attemptChild('SOLD_OUT').inc(),
    countSockets: (count) => void (sockets = count),
  };
}
