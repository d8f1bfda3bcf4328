import http from 'node:http';
import { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { Logger } from './logger';

/**
 * Prometheus plumbing every process shares: one Registry per process role (created here,
 * passed through ApiDeps / WorkerDeps; never prom-client's global registry, so an API and
 * a worker in one test process, or `npm start`'s worker thread, keep their series apart),
 * the `/metrics` listener, and the instruments both roles carry.
 *
 * Naming (https://prometheus.io/docs/practices/naming/): `flashsale_` prefix, base units
 * (seconds), `_total` on counters; Node's default metrics keep their standard names
 * (`process_*`, `nodejs_*`) so stock dashboards work on them.
 */
export const METRIC_PREFIX = 'flashsale_';

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** How a webhook delivery attempt ended. `dead`: the last retry failed and the delivery went to dead letters. */
export type WebhookDeliveryResult = 'delivered' | 'failed' | 'dead';

/**
 * Instruments that both roles register: webhook deliveries (counted where a delivery
 * attempt runs) and dead letters (a gauge whose value comes from `deadLetterCount`,
 * read at scrape time by whoever wires a count in).
 */
export type SharedMetrics = {
  /** `flashsale_webhook_deliveries_total{result}`: call once per delivery attempt. */
  webhookDelivery: (result: WebhookDeliveryResult) => void;
  /** Names a source for `flashsale_dead_letters{kind}`; read at each scrape (a failing source reports nothing). */
  countDeadLetters: (kind: 'purchase' | 'webhook', count: () => Promise<number>) => void;
};

export function registerSharedMetrics(registry: Registry): SharedMetrics {
  const deliveries = new Counter({
    name: `${METRIC_PREFIX}webhook_deliveries_total`,
    help: 'Webhook delivery attempts, by result (delivered, failed: will be retried, dead: retries exhausted)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  for (const result of ['delivered', 'failed', 'dead'] as const) deliveries.labels(result).inc(0);
  const sources = new Map<string, () => Promise<number>>();
  new Gauge({
    name: `${METRIC_PREFIX}dead_letters`,
    help: 'Items in dead letters now (needing a person), by kind; the same cluster-wide count from every process that reports it: aggregate with max',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        [...sources].map(async ([kind, count]) => {
          const n = await count().catch(() => undefined);
          if (n !== undefined) this.labels(kind).set(n);
        }),
      );
    },
  });
  return {
    webhookDelivery: (result) => deliveries.labels(result).inc(),
    countDeadLetters: (kind, count) => void sources.set(kind, count),
  };
}

export type MetricsServer = { url: string; close: () => Promise<void> };

/**
 * A small HTTP listener that answers `GET /metrics` with the registry's text format
 * (anything else: 404). Its own port, loopback by default: nothing public reaches it,
 * so it needs no auth (docs/operations.md).
 */
export async function startMetricsServer(registry: Registry, at: { host: string; port: number }, logger: Logger): Promise<MetricsServer> {
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: Error) => {
        logger.warn('metrics scrape failed', { err: err.message });
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('scrape failed\n');
      },
    );
  });
  // A scraper that keeps its socket open must not hold shutdown.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = at.host.includes(':') ? `[${at.host}]` : at.host === '0.0.0.0' ? '127.0.0.1' : at.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
