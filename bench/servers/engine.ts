/**
 * Bench scenario (b): the engine's HTTP API alone, as its own OS process so its RSS can
 * be measured. The same wiring as `npm run start:api` (loadConfig + createApiDeps +
 * startApi); the worker runs as another process (workers/purchase-worker.ts).
 * Prints `READY <port>` on stdout once listening.
 */
import { AddressInfo } from 'node:net';
import { startApi } from '../../src/api';
import { loadConfig } from '../../src/config/config';
import { closeApiDeps, createApiDeps } from '../../src/deps';
import { exitOnStartupError, onShutdownSignal } from '../../src/lib/shutdown';

async function main(): Promise<void> {
  const config = loadConfig();
  const deps = await createApiDeps(config);
  const api = await startApi(config, deps);
  process.stdout.write(`READY ${(api.server.address() as AddressInfo).port}\n`);

  const shutdown = onShutdownSignal(deps.logger, 'closing', async () => {
    api.server.closeAllConnections();
    await api.stop();
    await closeApiDeps(deps);
  });
  // Spawned by bench/run.ts with an IPC channel: leave when the orchestrator goes away.
  if (process.send) process.once('disconnect', () => shutdown('parent gone'));
}

main().catch(exitOnStartupError);
