import path from 'node:path';
import express, { Express, Request, RequestHandler } from 'express';
import helmet from 'helmet';
import { ApiDeps } from '../deps';
import { requireAdmin, requireUser } from '../modules/auth/middleware';
import { healthRouter } from '../modules/health/routes';
import { adminProductsRouter } from '../modules/products/routes';
import { purchasesRouter } from '../modules/purchases/routes';
import { adminReconcileRouter } from '../modules/sales/reconcile-routes';
import { adminSalesRouter, publicSalesRouter } from '../modules/sales/routes';
import { errorHandler, notFoundHandler } from './error-handler';
import { jsonBody, requestId } from './middleware';
import { openApiRouter } from './openapi-routes';
import { attemptLimiter, ipKey } from './rate-limit';
import { installResponseRecorder } from './response-recorder';

export type AppState = { shuttingDown: boolean };

/** helmet as configured for every response (the sold-out lane sends the same headers). */
export function securityHeaders(): RequestHandler {
  return helmet({
    // The engine serves plain HTTP on localhost and behind nginx: do not make browsers
    // rewrite its own page's requests to https.
    contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } },
  });
}

/**
 * Builds the Express app from explicit dependencies. Tests call this and listen on port 0.
 * @example const app = createApp(await createApiDeps(loadConfig()));
 */
export function createApp(deps: ApiDeps, state: AppState = { shuttingDown: false }): Express {
  const { config, logger } = deps;
  const app = express();
  // Trust exactly the configured number of proxies, never `true` (spoofable X-Forwarded-For).
  app.set('trust proxy', config.trustProxyHops);
  app.set('etag', false);
  app.disable('x-powered-by');
  installResponseRecorder(app, config.env); // tests only (OPENAPI_RECORD_FILE): the OpenAPI conformance check
  app.use(securityHeaders());
  app.use(requestId(logger));

  const body = jsonBody(config.bodyLimitBytes);
  const user = requireUser(config.jwtSecret);
  const limiters = [
    attemptLimiter({ redis: deps.redis, prefix: deps.keys.rateLimit('ip'), perMinute: config.rateLimitIpPerMin, key: ipKey }),
    attemptLimiter({
      redis: deps.redis,
      prefix: deps.keys.rateLimit('user'),
      perMinute: config.rateLimitUserPerMin,
      key: (req: Request) => req.principal?.userId ?? ipKey(req),
    }),
  ].filter((l) => l !== null);

  const api = express.Router();
  // The hot route's router first: fewer layers to walk per attempt.
  api.use(purchasesRouter(deps, { user, limiters, body }));
  api.use(healthRouter({ ...deps, isShuttingDown: () => state.shuttingDown }));
  api.use(openApiRouter());
  api.use(publicSalesRouter(deps));
  api.use('/admin', requireAdmin(config.jwtSecret), body, adminProductsRouter(deps), adminSalesRouter(deps), adminReconcileRouter(deps));
  app.use('/api', api);

  // The shopper page at /, the admin page at /admin: static files, no front-end server.
  const pages = path.join(__dirname, '..', '..', 'public');
  app.get('/admin', (_req, res) => res.sendFile(path.join(pages, 'admin.html')));
  app.use(express.static(pages, { index: 'index.html', maxAge: '5m' }));

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}
