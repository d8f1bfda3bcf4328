/**
 * `npm start`: one process for a newcomer. Creates and migrates the database, seeds the
 * demo sale, serves the API and runs the worker (on its own thread), then prints where to look.
 */
import { seedDemo } from '../seeds/demo';
import { startApi } from './api';
import { loadConfig } from './config/config';
import { closeApiDeps, createApiDeps } from './deps';
import { ensureDatabase } from './lib/db';
import { migrateLatest } from './lib/migration-source';
import { checkRedisDurability } from './lib/redis-durability';
import { exitOnStartupError, onShutdownSignal } from './lib/shutdown';
import { signToken } from './modules/auth/tokens';
import { startWorkerThread } from './worker-thread';

async function main(): Promise<void> {
  const config = loadConfig();
  await ensureDatabase(config.databaseUrl);
  const deps = await createApiDeps(config);
  const { logger } = deps;
  await migrateLatest(deps.db);
  await checkRedisDurability(deps.redis, logger);
  if (config.jwtSecretIsDefault) logger.warn('JWT_SECRET is not set: using the public development secret. Never do this in production.');
  const demo = config.seedDemo ? await seedDemo(deps) : undefined;
  const worker = await startWorkerThread();
  const api = await startApi(config, deps);

  const base = `http://localhost:${new URL(api.url).port}`;
  const shopper = signToken({ sub: 'demo-shopper' }, config.jwtSecret, 24 * 3600);
  const admin = signToken({ sub: 'demo-admin', role: 'admin' }, config.jwtSecret, 24 * 3600);
  const lines = [
    '',
    `Flash-sale engine is up at ${base}`,
    `  shop:    ${base}/#token=${shopper}`,
    `  admin:   ${base}/admin#token=${admin}`,
    `  queues:  ${base}/admin/queues (open the admin page, then its "Queue dashboard" button)`,
    `  health:  curl -s ${base}/api/health`,
    `  metrics: curl -s ${api.metricsUrl} (API), curl -s ${worker.metricsUrl} (worker)`,
    `  sales:   curl -s ${base}/api/sales`,
  ];
  if (demo) {
    lines.push(
      `  buy one unit of the demo sale (token valid 24 h):`,
      `    curl -s -X POST ${base}/api/sales/${demo.saleId}/purchases \\`,
      `      -H 'Authorization: Bearer ${shopper}' -H 'Content-Type: application/json' -d '{"quantity":1}'`,
      `  then poll the statusUrl it returns with the same Authorization header.`,
      `  admin stats:`,
      `    curl -s ${base}/api/admin/sales/${demo.saleId}/stats -H 'Authorization: Bearer ${admin}'`,
    );
  }
  lines.push('  Ctrl-C stops everything cleanly.', '');
  process.stdout.write(lines.join('\n') + '\n');

  onShutdownSignal(logger, 'closing HTTP server, then the worker, then queues and connections', async () => {
    await api.stop();
    await worker.stop();
    await closeApiDeps(deps);
  });
}

main().catch(exitOnStartupError);
