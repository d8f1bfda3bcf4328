/**
 * Bench scenario (c), the naive baseline many peers ship: the purchase done synchronously
 * in PostgreSQL per request. Same Express settings, middleware, auth, body parsing,
 * validation and error envelope as the engine (src/http/app.ts); a knex pool of 10; ONE
 * transaction per attempt: lock the stock row (FOR UPDATE), check stock and the shopper's
 * confirmed total, take the units, insert the purchase and the order, commit.
 * Listens on PORT/HOST from the usual config and prints `READY <port>` on stdout.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import express, { Express } from 'express';
import helmet from 'helmet';
import { Config, loadConfig } from '../../src/config/config';
import { errorHandler, notFoundHandler } from '../../src/http/error-handler';
import { jsonBody, requestId } from '../../src/http/middleware';
import { parse, parseId } from '../../src/http/validate';
import { createDb, Db } from '../../src/lib/db';
import { Errors } from '../../src/lib/errors';
import { createLogger, Logger } from '../../src/lib/logger';
import { exitOnStartupError, onShutdownSignal } from '../../src/lib/shutdown';
import { principalOf, requireUser } from '../../src/modules/auth/middleware';
import { attemptBodySchema } from '../../src/modules/purchases/validators';

const POOL_MAX = 10;

const LOCK_STOCK_SQL = `
  SELECT i.remaining, s.per_user_limit, s.price_cents
    FROM sale_inventory i JOIN sales s ON s.id = i.sale_id
   WHERE i.sale_id = ? FOR UPDATE OF i`;
const HELD_SQL = `
  SELECT COALESCE(sum(quantity), 0)::int AS held
    FROM purchases WHERE sale_id = ? AND user_id = ? AND status = 'confirmed'`;
const TAKE_SQL = 'UPDATE sale_inventory SET remaining = remaining - ? WHERE sale_id = ?';
const INSERT_PURCHASE_SQL = `
  INSERT INTO purchases (id, sale_id, user_id, quantity, status, admitted_at)
  VALUES (?, ?, ?, ?, 'confirmed', now())
  RETURNING admitted_at`;
const INSERT_ORDER_SQL = `
  INSERT INTO orders (id, purchase_id, sale_id, user_id, quantity, unit_price_cents, total_cents)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;

type StockRow = { remaining: number; per_user_limit: number; price_cents: string };
type Rows<T> = { rows: T[] };

type NaivePurchase = {
  purchaseId: string;
  orderId: string;
  saleId: string;
  quantity: number;
  status: 'confirmed';
  createdAt: string;
};

/** One attempt, decided and written in one transaction while holding the stock row lock. */
function buySynchronously(db: Db, saleId: string, userId: string, quantity: number): Promise<NaivePurchase> {
  return db.transaction(async (trx) => {
    const stock = (await trx.raw<Rows<StockRow>>(LOCK_STOCK_SQL, [saleId])).rows[0];
    if (!stock) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
    if (stock.remaining < quantity) throw Errors.conflict('SOLD_OUT', 'Not enough units left for this request');
    const held = (await trx.raw<Rows<{ held: number }>>(HELD_SQL, [saleId, userId])).rows[0]?.held ?? 0;
    if (held + quantity > stock.per_user_limit) {
      throw Errors.conflict('LIMIT_EXCEEDED', 'This would take you over the per-shopper limit for this sale');
    }
    await trx.raw(TAKE_SQL, [quantity, saleId]);
    const purchaseId = randomUUID();
    const orderId = randomUUID();
    const inserted = await trx.raw<Rows<{ admitted_at: Date }>>(INSERT_PURCHASE_SQL, [purchaseId, saleId, userId, quantity]);
    const unitPrice = Number(stock.price_cents);
    await trx.raw(INSERT_ORDER_SQL, [orderId, purchaseId, saleId, userId, quantity, unitPrice, unitPrice * quantity]);
    const admittedAt = inserted.rows[0]?.admitted_at ?? new Date();
    return { purchaseId, orderId, saleId, quantity, status: 'confirmed', createdAt: admittedAt.toISOString() };
  });
}

function createNaiveApp(db: Db, config: Config, logger: Logger): Express {
  const app = express();
  // The same app settings and middleware order as src/http/app.ts (rate limits are off in the bench).
  app.set('trust proxy', config.trustProxyHops);
  app.set('etag', false);
  app.disable('x-powered-by');
  app.use(helmet());
  app.use(requestId(logger));
  app.post('/api/sales/:saleId/purchases', requireUser(config.jwtSecret), jsonBody(config.bodyLimitBytes), async (req, res) => {
    const { userId } = principalOf(req);
    const saleId = parseId(req.params.saleId, 'SALE_NOT_FOUND', 'Sale');
    const body = parse(attemptBodySchema, req.body);
    res.status(201).json(await buySynchronously(db, saleId, userId, body?.quantity ?? 1));
  });
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return app;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'naive');
  const db = createDb(config.databaseUrl, POOL_MAX, logger);
  const server = http.createServer(createNaiveApp(db, config, logger));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);

  const shutdown = onShutdownSignal(logger, 'closing', async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.destroy();
  });
  // Spawned by bench/run.ts with an IPC channel: leave when the orchestrator goes away.
  if (process.send) process.once('disconnect', () => shutdown('parent gone'));
}

main().catch(exitOnStartupError);
