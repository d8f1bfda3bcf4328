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

/** Starts the HTTP API (port 0 picks a free port, as tests do). */
export async function startApi(config: Config, deps?: ApiDeps): Promise<RunningApi> {
  const d = deps ?? (await createApiDeps(config));
  const state: AppState = { shuttingDown: false };
  const headers = securityHeaderList();
  const app = createApp(d, state, headers);
  const soldOut = soldOutLane({ soldOut: d.soldOut, jwtSecret: config.jwtSecret, headers, logger: d.logger });
  const server = http.createServer((req, res) => {
    if (!soldOut(req, res)) app(req, res);
  });
  // Keep-alive longer than typical proxy idle timeouts, so nginx never reuses a closed socket.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
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
