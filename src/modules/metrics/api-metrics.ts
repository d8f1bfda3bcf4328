import { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Gauge, Registry } from 'prom-client';
import { METRIC_PREFIX, registerSharedMetrics, SharedMetrics } from '../../lib/metrics';
import { tallyCounter, tallyHistogram } from '../../lib/tally';
import { errorCodeOf } from '../../http/error-code';

/** What an API process measures (a worker's counterpart: worker-metrics.ts). */
export type ApiMetrics = SharedMetrics & {
  registry: Registry;
  /**
   * Called by the HTTP server for each request Express will handle: an attempt or a payment
   * gets a 'finish' listener that counts its answer (and times an attempt). Nothing in the
   * routes or use-cases: the answer's status and error code say the outcome.
   */
  watch: (req: IncomingMessage, res: ServerResponse) => void;
  /** The sold-out lane answered an attempt before Express (http/sold-out-lane.ts). */
  soldOutLaneAnswered: () => void;
  /** Names the source of the socket connection gauge (read at scrape). */
  countSockets: (count: () => number) => void;
};

/** `POST /api/sales/:saleId/purchases` and `POST /api/purchases/:purchaseId/pay`, as Express matches them (any case, optional trailing slash). */
const ATTEMPT_PATH = /^\/api\/sales\/[^/?#]+\/purchases\/?(?:\?|$)/i;
const PAY_PATH = /^\/api\/purchases\/[^/?#]+\/pay\/?(?:\?|$)/i;
const STARTED = Symbol('attemptStarted');
type Watched = ServerResponse & { [STARTED]?: number };

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
 * Registers the API's instruments on `registry`. The attempt path pays a regex test, a clock
 * read, a listener and, at the end, two additions (lib/tally.ts); the text Prometheus reads
 * is built at scrape time.
 */
export function createApiMetrics(registry: Registry): ApiMetrics {
  const attempt = tallyCounter(registry, {
    name: `${METRIC_PREFIX}purchase_attempts_total`,
    help: 'Purchase attempts answered, by outcome: admitted (202), replayed (200, same Idempotency-Key), or the error code (409 codes, RATE_LIMITED, OVERLOADED, ...); sold-out lane answers included',
    label: 'outcome',
    // Zero series for the common outcomes, so rate() and alerts see them from the first scrape.
    initial: ['admitted', 'SOLD_OUT', 'RATE_LIMITED', 'OVERLOADED'],
  });
  const admission = tallyHistogram(registry, {
    name: `${METRIC_PREFIX}admission_duration_seconds`,
    help: 'Time from the attempt reaching the API to its answer written (the sold-out lane, answered before Express, is counted in attempts but not timed here)',
    buckets: ADMISSION_BUCKETS,
  });
  const payment = tallyCounter(registry, {
    name: `${METRIC_PREFIX}payments_total`,
    help: 'Payment answers, by result: paid (200; a repeated pay of a paid purchase too) or the error code (PAYMENT_DECLINED, PAYMENT_TIMEOUT, PURCHASE_EXPIRED, ...)',
    label: 'result',
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

  // One listener function each, shared by every response (no closure per request).
  function attemptFinished(this: Watched) {
    admission((performance.now() - this[STARTED]!) / 1000);
    attempt(attemptOutcome(this.statusCode, errorCodeOf(this)));
  }
  function paymentFinished(this: ServerResponse) {
    payment(paymentResult(this.statusCode, errorCodeOf(this)));
  }

  return {
    ...registerSharedMetrics(registry),
    registry,
    watch: (req, res: Watched) => {
      if (req.method !== 'POST') return;
      const url = req.url ?? '';
      if (ATTEMPT_PATH.test(url)) {
        res[STARTED] = performance.now();
        res.once('finish', attemptFinished);
      } else if (PAY_PATH.test(url)) {
        res.once('finish', paymentFinished);
      }
    },
    soldOutLaneAnswered: () => attempt('SOLD_OUT'),
    countSockets: (count) => void (sockets = count),
  };
}
