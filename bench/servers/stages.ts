/**
 * Stage servers for `bench/stages.ts`: the engine's attempt route built up one piece at a
 * time from the engine's own middleware and modules, so the CPU each piece adds inside a
 * loaded server can be measured side by side (a profiler's attribution and tight-loop
 * micro-benchmarks both misled us here). STAGE (env) picks how far to build:
 *
 *   express    Express app as the engine sets it up, POST route answering a 202 JSON of the same shape
 *   headers    + helmet's security headers and the request id
 *   auth       + JWT verification (requireUser)
 *   body       + JSON body parsing and zod validation of the body and the sale id
 *   gate       + the Lua gate (admit-8) on a real sale
 *   admission  the whole attemptPurchase (backlog check, gate, shared queue add)
 *
 * Prints `READY <port>` on stdout once listening.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import express, { RequestHandler } from 'express';
import { loadConfig } from '../../src/config/config';
import { closeApiDeps, createApiDeps } from '../../src/deps';
import { errorHandler } from '../../src/http/error-handler';
import { jsonBody, requestId } from '../../src/http/middleware';
import { securityHeaderList, securityHeaders } from '../../src/http/security-headers';
import { parse, parseId } from '../../src/http/validate';
import { createLogger } from '../../src/lib/logger';
import { exitOnStartupError, onShutdownSignal } from '../../src/lib/shutdown';
import { principalOf, requireUser } from '../../src/modules/auth/middleware';
import { attemptPurchase } from '../../src/modules/purchases/admission/admission';
import { attemptBodySchema } from '../../src/modules/purchases/validators';
import { scripts } from '../../src/gate/scripts';
import { Stage, STAGES } from './stage-names';


async function main(): Promise<void> {
  const stage = process.env.STAGE as Stage;
  const at = STAGES.indexOf(stage);
  if (at < 0) throw new Error(`STAGE must be one of ${STAGES.join(', ')}`);
  const from = (s: Stage) => at >= STAGES.indexOf(s);
  const config = loadConfig();
  const logger = createLogger(config.logLevel, `stage-${stage}`);
  const deps = from('gate') ? await createApiDeps(config, logger) : undefined;

  const app = express();
  app.set('etag', false);
  app.disable('x-powered-by');
  if (from('headers')) {
    app.use(securityHeaders(securityHeaderList()));
    app.use(requestId(logger));
  }
  const guards: RequestHandler[] = [];
  if (from('auth')) guards.push(requireUser(config.jwtSecret));
  if (from('body')) guards.push(jsonBody(config.bodyLimitBytes));
  app.post('/api/sales/:saleId/purchases', ...guards, async (req, res) => {
    const userId = from('auth') ? principalOf(req).userId : 'anonymous';
    const saleId = from('body') ? parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale') : String(req.params.saleId);
    const quantity = from('body') ? (parse(attemptBodySchema, req.body)?.quantity ?? 1) : 1;
    let purchaseId: string = randomUUID();
    let createdAtMs = Date.now();
    if (deps && stage === 'admission') {
      const { purchase } = await attemptPurchase(deps, { saleId, userId, quantity, idempotencyKey: null });
      purchaseId = purchase.purchaseId;
      createdAtMs = Date.parse(purchase.createdAt);
    } else if (deps) {
      const [code, , , admittedAt] = await scripts.admit(deps.redis, deps.keys.sale(saleId), { purchaseId, userId, quantity, nowMs: Date.now(), idemKey: '' });
      if (code < 0) {
        res.status(409).json({ error: { code: 'REFUSED', message: `gate code ${code}` } });
        return;
      }
      createdAtMs = admittedAt!;
    }
    const statusUrl = `/api/purchases/${purchaseId}`;
    res
      .status(202)
      .location(statusUrl)
      .json({ purchaseId, saleId, quantity, status: 'queued', createdAt: new Date(createdAtMs).toISOString(), statusUrl });
  });
  app.use(errorHandler(logger));

  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
  const shutdown = onShutdownSignal(logger, 'closing', async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (deps) await closeApiDeps(deps);
  });
  if (process.send) process.once('disconnect', () => shutdown('parent gone'));
}

main().catch(exitOnStartupError);
