import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Config, loadConfig } from './config/config';
import { ApiDeps, closeApiDeps, createApiDeps } from './deps';
import { AppState, createApp } from './http/app';
import { securityHeaderList } from './http/security-headers';
import { soldOutLane } from './http/sold-out-lane';
import { lineLane } from './http/line-lane';
import { startMetricsServer } from './lib/metrics';
import { checkRedisDurability } from './lib/redis-durability';
import { exitOnStartupError, onShutdownSignal } from './lib/shutdown';
import { attachRealtime, Realtime } from './realtime/socket-server';

export type RunningApi = {
  server: http.Server;
  url: string;
  /** GET /metrics of this process, on its own listener (METRICS_HOST:METRICS_PORT). */
  metricsUrl: string;
  deps: ApiDeps;
  realtime: Realtime;
  stop: () => Promise<void>;
};

/**
 * Slow-client limits (README "Timeouts"; nginx sits in front with its own). Node enforces
 * headersTimeout / requestTimeout only when it checks its connections, by default every
 * 30 s: check every second (or every half headersTimeout) so a limit bites about on time.
 * Idle keep-alive sockets are governed by keepAliveTimeout alone, set on the server.
 */
export function serverOptions(limits: Config['http']): http.ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.floor(limits.headersTimeoutMs / 2)),
  };
}

/** Starts the HTTP API (port 0 picks a free port, as tests do). */
export async function startApi(config: Config, deps?: ApiDeps): Promise<RunningApi> {
  const d = deps ?? (await createApiDeps(config));
  // First, so a taken port fails the start before the API takes traffic.
  const metrics = await startMetricsServer(d.metrics.registry, { host: config.metrics.host, port: config.metrics.apiPort }, d.logger).catch(async (err: Error) => {
    if (!deps) await closeApiDeps(d);
    throw new Error(`API metrics listener on ${config.metrics.host}:${config.metrics.apiPort} (METRICS_PORT): ${err.message}`);
  });
  const state: AppState = { shuttingDown: false };
  const headers = securityHeaderList();
  const app = createApp(d, state, headers);
  const soldOut = soldOutLane({ soldOut: d.soldOut, jwtSecret: config.jwtSecret, headers, logger: d.logger });
  const linePolls = lineLane({ line: d.line, jwtSecret: config.jwtSecret, headers, logger: d.logger });
  const server = http.createServer(serverOptions(config.http), (req, res) => {
    if (soldOut(req, res)) return d.metrics.soldOutLaneAnswered();
    const express = () => {
      d.metrics.watch(req, res);
      app(req, res);
    };
    // A shopper's poll of the line: answered before Express when the read succeeds, else by Express.
    if (linePolls(req, res, express)) return;
    express();
  });
  // Longer than nginx's upstream keepalive_timeout, so nginx never reuses a socket Node closed.
  server.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  const realtime = await attachRealtime(server, { ...config, redisTarget: config.redis, redis: d.redis, keys: d.keys, logger: d.logger, line: d.line });
  d.metrics.countSockets(() => realtime.io.engine.clientsCount);
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    server,
    url,
    metricsUrl: metrics.url,
    deps: d,
    realtime,
    stop: async () => {
      state.shuttingDown = true;
      // Closes the sockets and then the HTTP server (in-flight requests finish).
      await realtime.close();
      await metrics.close();
      if (!deps) await closeApiDeps(d);
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const deps = await createApiDeps(config);
  await checkRedisDurability(deps.redis, deps.logger);
  const api = await startApi(config, deps);
  deps.logger.info(`API listening on ${api.url}; metrics on ${api.metricsUrl}`);
  // A plain line for scripts and tests that start API processes.
  process.stdout.write(`API_READY url=${api.url} metrics=${api.metricsUrl}\n`);
  onShutdownSignal(deps.logger, 'closing HTTP server, then connections', async () => {
    await api.stop();
    await closeApiDeps(deps);
  });
}

if (require.main === module) {
  main().catch(exitOnStartupError);
}
