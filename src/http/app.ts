import path from 'node:path';
import express, { Express } from 'express';
import { ApiDeps } from '../deps';
import { requireAdmin, requireUser } from '../modules/auth/middleware';
import { healthRouter } from '../modules/health/routes';
import { adminProductsRouter } from '../modules/products/routes';
import { purchasesRouter } from '../modules/purchases/routes';
import { adminReconcileRouter } from '../modules/recovery/routes';
import { adminSalesRouter, publicSalesRouter } from '../modules/sales/routes';
import { adminWebhooksRouter } from '../modules/webhooks/routes';
import { adminDeadLettersRouter } from '../modules/dead-letters/routes';
import { adminLineRouter, lineRouter } from '../modules/waiting-room/routes';
import { boardShards, queueBoard } from '../modules/queue-dashboard/board';
import { adminSessionRouter, requireDashboardAdmin } from '../modules/queue-dashboard/routes';
import { DASHBOARD_PATH } from '../modules/queue-dashboard/session';
import { errorHandler, notFoundHandler } from './error-handler';
import { jsonBody, requestId } from './middleware';
import { openApiRouter } from './openapi-routes';
import { securityHeaderList, securityHeaders } from './security-headers';
import { addressLimiter } from './rate-limit';

export type AppState = { shuttingDown: boolean };

/**
 * Builds the Express app from explicit dependencies. Tests call this and listen on port 0.
 * @example const app = createApp(await createApiDeps(loadConfig()));
 */
export function createApp(deps: ApiDeps, state: AppState = { shuttingDown: false }, headers = securityHeaderList()): Express {
  const { config, logger } = deps;
  const app = express();
  // Trust exactly the configured number of proxies, never `true` (spoofable X-Forwarded-For).
  app.set('trust proxy', config.trustProxyHops);
  app.set('etag', false);
  app.disable('x-powered-by');
  app.use(securityHeaders(headers)); // helmet's headers, computed once
  app.use(requestId(logger));

  const body = jsonBody(config.bodyLimitBytes);
  const user = requireUser(config.jwtSecret);
  const limiters = [addressLimiter(config.rateLimitIpPerMin)].filter((l) => l !== null);

  const api = express.Router();
  // The hot route's router first: fewer layers to walk per attempt.
  api.use(purchasesRouter(deps, { user, limiters, body }));
  api.use(healthRouter({ ...deps, isShuttingDown: () => state.shuttingDown }));
  api.use(openApiRouter());
  api.use(publicSalesRouter(deps));
  // Joins (and challenges) per address: LINE_JOIN_IP_PER_MIN, counted in this process like the attempt limiter.
  api.use(lineRouter(deps, { user, limiters: [addressLimiter(config.line.joinIpPerMin)].filter((l) => l !== null) }));
  api.use(
    '/admin',
    requireAdmin(config.jwtSecret),
    body,
    adminProductsRouter(deps),
    adminSalesRouter(deps),
    adminReconcileRouter({ ...deps, graceMs: config.orphans.graceMs }),
    adminWebhooksRouter(deps),
    adminDeadLettersRouter(deps),
    adminLineRouter(deps),
    adminSessionRouter(deps),
  );
  app.use('/api', api);

  // The queue dashboard (bull-board): every queue the engine uses; a new queue is one more line.
  const queues = [...boardShards('purchases', deps.queues.shards), ...boardShards('holds', deps.holdQueues.shards), ...boardShards('webhooks', [deps.webhookQueue])];
  app.use(DASHBOARD_PATH, requireDashboardAdmin(config.jwtSecret), queueBoard(queues, { readOnly: config.queueDashboardReadOnly }));

  // The shopper page at /, the admin page at /admin: static files, no front-end server.
  const pages = path.join(__dirname, '..', '..', 'public');
  app.get('/admin', (_req, res) => res.sendFile(path.join(pages, 'admin.html')));
  app.use(express.static(pages, { index: 'index.html', maxAge: '5m' }));
  // altcha-lib's browser build (ES modules, WebCrypto): the shop solves a line's proof of work with it.
  app.use('/vendor/altcha', express.static(path.join(path.dirname(require.resolve('altcha-lib')).replace(`${path.sep}cjs${path.sep}`, `${path.sep}esm${path.sep}`)), { maxAge: '1h' }));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
