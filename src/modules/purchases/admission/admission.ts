import { RedisClient } from '../../../lib/redis';
import { Db } from '../../../lib/db';
import { withDeadline } from '../../../lib/deadline';
import { Errors } from '../../../lib/errors';
import { Logger } from '../../../lib/logger';
import { AdmitCode, admitRefusal } from '../../../gate/codes';
import { Keys, scopedIdempotencyKey } from '../../../gate/keys';
import { scripts } from '../../../gate/scripts';
import { findSale } from '../../sales/repository';
import { recordNotQueued } from '../not-queued';
import { AdmittedPurchase } from '../job';
import { EnqueueBatcher } from './enqueue-batcher';
import { BacklogMonitor } from './backlog';
import { readPurchase, writeReadModel } from '../read-model';
import { newPurchaseId, PurchaseSales } from '../purchase-id';
import { PurchaseView } from '../view';
import { SoldOutCache } from './sold-out-cache';

export type AdmissionDeps = {
  /** Only when the gate does not know a sale: 404 or a rebuild (never on the hot path). */
  db: Db;
  redis: RedisClient;
  keys: Keys;
  enqueue: EnqueueBatcher;
  backlog: BacklogMonitor;
  soldOut: SoldOutCache;
  logger: Logger;
  /** Rebuilds a sale's gate from PostgreSQL (recovery's reconciler; one run per sale at a time). */
  restoreSale: (saleId: string) => Promise<void>;
  /** Which sale a purchase id names (for a keyed retry's decided view). */
  purchaseSales: PurchaseSales;
  /** Attempts per shopper per minute on one sale (0: no limit), counted by the gate itself. */
  config: { rateLimitUserPerMin: number };
  /** Checks a `Sale-Pass` (signature, owner, sale, expiry; the waiting room's, injected): its place id. Single use is admit-8's. */
  checkPass: (token: string, who: { saleId: string; userId: string }) => string;
};

export type Attempt = { saleId: string; userId: string; quantity: number; idempotencyKey: string | null; /** The `Sale-Pass` header, if sent. */ pass?: string | null };

export type AttemptResult = {
  /** true: a new purchase was admitted now (202); false: an earlier one was returned (200). */
  created: boolean;
  purchase: PurchaseView;
};

/**
 * Admits one purchase attempt: backlog check (in memory), the Lua gate (one round
 * trip: window, the shopper's rate and limit, stock), then the enqueue. A failed enqueue gives the reservation back.
 */
export async function attemptPurchase(deps: AdmissionDeps, attempt: Attempt): Promise<AttemptResult> {
  if (deps.backlog.isOverloaded()) throw Errors.overloaded(deps.backlog.retryAfterSeconds());

  const keys = deps.keys.sale(attempt.saleId);
  const idemKey = attempt.idempotencyKey ? scopedIdempotencyKey(attempt.userId, attempt.idempotencyKey) : '';
  const purchaseId = newPurchaseId(attempt.saleId);
  // A pass is verified here, before the gate; whether the sale needs one is the gate's (meta `room`).
  const passPlace = attempt.pass ? deps.checkPass(attempt.pass, attempt) : '';
  const [code, id, status, createdAtMs, quantity] = await scripts.admit(deps.redis, keys, {
    purchaseId,
    userId: attempt.userId,
    quantity: attempt.quantity,
    nowMs: Date.now(),
    idemKey,
    shopperRate: { attempts: deps.config.rateLimitUserPerMin, windowMs: 60_000 },
    passPlace,
  });

  if (code === AdmitCode.notLoaded) {
    // The rare path: tell a sale Redis lost (503, rebuilt) from one that never existed (404).
    if (await findSale(deps.db, attempt.saleId)) {
      // Redis lost the sale's keys: rebuild them from PostgreSQL (one run per sale at a
      // time in this process) and let this attempt retry once they are back.
      void deps.restoreSale(attempt.saleId);
      throw Errors.unavailable('SALE_UNAVAILABLE', 'This sale is being restored; try again shortly', 1);
    }
    throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
  }
  if (code < 0) {
    if (code === AdmitCode.soldOut && Number(id) <= 0) deps.soldOut.markSoldOut(attempt.saleId);
    throw admitRefusal(code, Number(id));
  }

  const purchase: PurchaseView = { purchaseId: id!, saleId: attempt.saleId, quantity: quantity!, status: 'queued', createdAt: new Date(createdAtMs!).toISOString() };
  // A worker's claim (`processing`) is internal: to the shopper it is still queued.
  const pending = status === 'queued' || status === 'processing';
  // ioredis sent this very command again after a reconnect, and its first run had admitted
  // the purchase: it is ours and has no job yet, so it goes on to the queue like a new one.
  const replayOfOurs = code === AdmitCode.existing && id === purchaseId && status === 'queued';
  // Same key again: the earlier purchase.
  if (code === AdmitCode.existing && !replayOfOurs) {
    if (!pending) return { created: false, purchase: await decidedView(deps, purchase, attempt.userId, status!) };
    return { created: false, purchase };
  }

  const job: AdmittedPurchase = {
    purchaseId,
    saleId: attempt.saleId,
    userId: attempt.userId,
    quantity: purchase.quantity,
    admittedAt: createdAtMs!,
    idempotencyKey: attempt.idempotencyKey,
  };
  try {
    await deps.enqueue.enqueue(job);
  } catch (err) {
    return compensate(deps, attempt, purchase, idemKey, err);
  }
  return { created: true, purchase };
}

/**
 * The reservation's compensation: give the units back unless a worker already
 * claimed the purchase (then the job exists and the purchase goes on normally).
 *
 * The shopper hears 503 only when nothing can confirm the purchase later: the gate
 * released it (a late job finds it rejected), or, with Redis unreachable, PostgreSQL
 * holds it as rejected (a late job finds that first; the orphan sweep gives the units
 * back once Redis answers). Only when neither could be written is the answer 202: the
 * purchase then ends confirmed (its job landed) or rejected by the sweep, never both.
 */
async function compensate(
  deps: AdmissionDeps,
  attempt: Attempt,
  purchase: AttemptResult['purchase'],
  idemKey: string,
  cause: unknown,
): Promise<AttemptResult> {
  const keys = deps.keys.sale(attempt.saleId);
  deps.logger.error('enqueue failed after admission', { purchaseId: purchase.purchaseId, err: (cause as Error).message });
  let released: number;
  try {
    // Bounded: a Redis that just failed the add is likely stalled, and the shopper is waiting.
    // A release that runs after we gave up on it still agrees with what PostgreSQL is told below.
    released = await withDeadline(
      scripts.release(deps.redis, keys, { purchaseId: purchase.purchaseId, idemKey, reason: 'ENQUEUE_FAILED' }),
      RELEASE_DEADLINE_MS,
    );
  } catch (err) {
    deps.logger.error('release after failed enqueue failed', { purchaseId: purchase.purchaseId, err: (err as Error).message });
    const recorded = await recordNotQueued(deps.db, attempt.saleId, [{ ...purchase, userId: attempt.userId, reason: 'ENQUEUE_FAILED' }]).then(
      (statuses) => statuses.get(purchase.purchaseId),
      (pgErr: Error) => {
        deps.logger.error('recording the failed enqueue in PostgreSQL failed too; the orphan sweep settles it', { purchaseId: purchase.purchaseId, err: pgErr.message });
        return undefined;
      },
    );
    // A worker got there first (the add had landed): the purchase goes on normally.
    if (recorded !== 'rejected') return { created: true, purchase };
    throw Errors.unavailable('QUEUE_UNAVAILABLE', 'The purchase could not be queued and will not go through; please retry', 1);
  }
  if (released === 0) return { created: true, purchase };
  // Best effort, not awaited: the gate's record already says rejected to pollers.
  writeReadModel(deps.redis, deps.keys, [{ ...purchase, userId: attempt.userId, status: 'rejected', reason: 'ENQUEUE_FAILED' }]).catch(() => undefined);
  throw Errors.unavailable('QUEUE_UNAVAILABLE', 'The purchase could not be queued and will not go through; please retry', 1);
}

/**
 * A keyed retry of a purchase already decided: the same view `GET /api/purchases/:id`
 * answers (order, hold end, payment). Only a purchase the API itself released after a failed
 * enqueue may be known to the gate alone (its PostgreSQL record is best effort).
 */
async function decidedView(deps: AdmissionDeps, queued: PurchaseView, userId: string, gateStatus: string): Promise<PurchaseView> {
  const found = await readPurchase(deps, queued.purchaseId, userId);
  if (found) return found;
  if (gateStatus === 'rejected') return { ...queued, status: 'rejected', reason: 'ENQUEUE_FAILED' };
  // The gate says decided but no record answers yet (the worker's read-model write is in flight).
  throw Errors.unavailable('PURCHASE_UNAVAILABLE', 'This purchase is being recorded; try again shortly', 1);
}

/** How long the compensation waits for Redis to release before recording the outcome in PostgreSQL. */
const RELEASE_DEADLINE_MS = 200;
