import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Config, loadConfig } from './config/config';
import { ApiDeps, closeApiDeps, createApiDeps } from './deps';
import { AppState, createApp } from './http/app';
import { securityHeaderList } from './http/security-headers';
import { soldOutLane } from './http/sold-out-lane';
import { checkRedisDurability } from './lib/redis-durability';
import { exitOnStartupError, onShutdownSignal } from './lib/shutdown';
import { attachRealtime, Realtime } from './realtime/socket-server';

export type RunningApi = { server: http.Server; url: string; deps: ApiDeps; realtime: Realtime; stop: () => Promise<void> };

/**
 * Slow-client limits (README "Timeouts"; nginx/flashsale.conf sits in front with its own).
 *
 * - headersTimeout: a connection whose request line and headers are not complete this
 *   long after its first byte (or after it opened, if it sent none) gets `408` and is
 *   closed. An idle keep-alive socket between requests is not subject to it (so the
 *   old "headersTimeout > keepAliveTimeout" workaround for older Node is not needed).
 * - requestTimeout: the same for the whole request, body included, counted the same
 *   way. Only receiving the request counts: a slow handler or a held Socket.io
 *   long-poll is not cut by it, and upgraded (websocket) sockets leave its watch.
 * - Node enforces both only when it checks its connections, every
 *   connectionsCheckingInterval (30 s by default, which let a slowloris sit for up to
 *   30 s past the limit): check every second, or every half headersTimeout if that is
 *   shorter, so a limit bites at most that late.
 * - keepAliveTimeout (set on the server below): how long an idle keep-alive socket
 *   is kept; nginx's upstream keepalive_timeout must stay below it, so nginx never
 *   sends a request on a socket Node has just closed (a 502 for that shopper). Node 20
 *   advertises it in `Keep-Alive: timeout=` and closes the socket a second after it.
 * - maxRequestsPerSocket stays 0 (unlimited): nginx's pooled upstream sockets carry
 *   thousands of requests each by design, and a request that arrives fast on an open
 *   socket is not a slow client; rate limits, not socket recycling, bound those.
 */
export function serverOptions(limits: Config['http']): http.ServerOptions {
  const { headersTimeoutMs, requestTimeoutMs } = limits;
  if (headersTimeoutMs > requestTimeoutMs) {
    // Node refuses it too (ERR_OUT_OF_RANGE), but without naming the variables.
    throw new Error(`HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs})`);
  }
  return {
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.floor(headersTimeoutMs / 2)),
  };
}

/** Starts the HTTP API (port 0 picks a free port, as tests do). */
export async function startApi(config: Config, deps?: ApiDeps): Promise<RunningApi> {
  const options = serverOptions(config.http); // before any connection is opened: it may throw
  const d = deps ?? (await createApiDeps(config));
  const state: AppState = { shuttingDown: false };
  const headers = securityHeaderList();
  const app = createApp(d, state, headers);
  const soldOut = soldOutLane({ soldOut: d.soldOut, jwtSecret: config.jwtSecret, headers, logger: d.logger });
  const server = http.createServer(options, (req, res) => {
    if (!soldOut(req, res)) app(req, res);
  });
  server.keepAliveTimeout = config.http.keepAliveTimeoutMs;
  const realtime = attachRealtime(server, { ...config, redis: d.redis, keys: d.keys, logger: d.logger });
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    server,
    url,
    deps: d,
    realtime,
    stop: async () => {
      state.shuttingDown = true;
      // Closes the sockets and then the HTTP server (in-flight requests finish).
      await realtime.close();
      if (!deps) await closeApiDeps(d);
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const deps = await createApiDeps(config);
  await checkRedisDurability(deps.redis, deps.logger);
  const api = await startApi(config, deps);
  deps.logger.info(`API listening on ${api.url}`);
  // A plain line for scripts and tests that start API processes.
  process.stdout.write(`API_READY url=${api.url}\n`);
  onShutdownSignal(deps.logger, 'closing HTTP server, then connections', async () => {
    await api.stop();
    await closeApiDeps(deps);
  });
}

if (require.main === module) {
  main().catch(exitOnStartupError);
}
