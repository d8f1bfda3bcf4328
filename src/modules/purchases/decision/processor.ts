import { RedisClient } from '../../../lib/redis';
import { randomUUID } from 'node:crypto';
import { Db } from '../../../lib/db';
import { Logger } from '../../../lib/logger';
import { Keys } from '../../../gate/keys';
import { scripts } from '../../../gate/scripts';
import { underSaleLock } from '../../../lib/sale-lock';
import { AdmittedPurchase, DecidedOutcome, outcomeView, PurchaseOutcome } from '../job';
import { storedView } from '../read-model';
import { purchaseEvents } from '../webhook-events';
import { noteStockLevel, recordEvents, stockMarksChange } from '../../webhooks/outbox';
import {
  ExistingPurchase,
  existingPurchases,
  insertRejected,
  insertDecisions,
  recordPurchaseFailure,
  OrderInsert,
  PurchaseInsert,
  saleForWrite,
  takeStock,
  userTotals,
  usedIdempotencyKeys,
} from './repository';

export type ProcessorDeps = {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  logger: Logger;
  /** Fault-testing only: keep each write transaction open this long (ms). */
  faultHoldMs: number;
  /** Called after outcomes are committed and applied to Redis (realtime push hooks in here). */
  onOutcomes?: (jobs: AdmittedPurchase[], outcomes: PurchaseOutcome[]) => void;
  /** Called after commit with the batch's confirmed purchases: each hold must end (paid or expired). */
  onConfirmed?: (held: { job: AdmittedPurchase; holdExpiresAt: Date }[]) => Promise<unknown>;
};

/**
 * What a purchase already in PostgreSQL means for a redelivered job. Only `confirmed` is
 * re-announced as confirmed (its hold may still need scheduling); paid and expired
 * purchases were settled by their own flows, so the batch leaves them alone.
 */
const fromExisting = (e: ExistingPurchase): PurchaseOutcome =>
  e.status === 'confirmed' && e.orderId
    ? { purchaseId: e.id, status: 'confirmed', orderId: e.orderId, holdExpiresAt: (e.holdExpiresAt ?? new Date()).toISOString() }
    : e.status === 'rejected'
      ? { purchaseId: e.id, status: 'rejected', reason: e.reason ?? 'REJECTED' }
      : { purchaseId: e.id, status: 'skipped' };

/**
 * Writes a batch of one sale's purchases in ONE transaction under the sale's advisory
 * lock (group commit), then applies the outcomes to the Redis gate.
 *
 * Exactly once: a purchase already in PostgreSQL (redelivered job) is reported, never
 * written again; orders.purchase_id is unique as a last guard. A purchase the API
 * released before any worker claimed it (enqueue failed, shopper got 503) is skipped.
 */
export async function processBatch(deps: ProcessorDeps, saleId: string, jobs: AdmittedPurchase[]): Promise<PurchaseOutcome[]> {
  const keys = deps.keys.sale(saleId);
  const ids = jobs.map((j) => j.purchaseId);
  const claims = await scripts.claim(deps.redis, keys, ids);
  const claimOf = new Map(ids.map((id, i) => [id, claims[i]]));

  const outcomes = await underSaleLock(deps.db, saleId, async (trx) => {
    if (deps.faultHoldMs > 0) {
      // Fault tests: the transaction sits open (idle in transaction, lock held), marked for pg_stat_activity.
      await trx.raw(`SELECT 'fault-hold' AS marker`);
      await new Promise((resolve) => setTimeout(resolve, deps.faultHoldMs));
    }

    const existing = await existingPurchases(trx, ids);
    const fresh = jobs.filter((j) => {
      if (existing.has(j.purchaseId)) return false;
      const claim = claimOf.get(j.purchaseId);
      return claim === 'processing' || claim === 'missing';
    });
    const sale = await saleForWrite(trx, saleId);
    const totals = await userTotals(trx, saleId, [...new Set(fresh.map((j) => j.userId))]);
    const keyed = fresh.filter((j) => j.idempotencyKey !== null);
    const usedKeys = await usedIdempotencyKeys(trx, saleId, [...new Set(keyed.map((j) => j.idempotencyKey!))]);

    const purchases: PurchaseInsert[] = [];
    const orders: OrderInsert[] = [];
    const decided = new Map<string, PurchaseOutcome>();
    let remaining = sale?.remaining ?? 0;
    let taken = 0;
    for (const job of [...fresh].sort((a, b) => a.admittedAt - b.admittedAt)) {
      const userKey = `${job.userId}\u0000${job.idempotencyKey}`;
      const held = totals.get(job.userId) ?? 0;
      const reason = !sale
        ? 'SALE_NOT_FOUND'
        : sale.cancelled
          ? 'SALE_CANCELLED'
          : job.idempotencyKey !== null && usedKeys.has(userKey)
            ? 'DUPLICATE_ATTEMPT'
            : remaining < job.quantity
              ? 'SOLD_OUT'
              : held + job.quantity > sale.perUserLimit
                ? 'LIMIT_EXCEEDED'
                : null;
      const base = {
        id: job.purchaseId,
        sale_id: saleId,
        user_id: job.userId,
        quantity: job.quantity,
        admitted_at: new Date(job.admittedAt),
      };
      if (reason || !sale) {
        purchases.push({ ...base, status: 'rejected', reason: reason ?? 'SALE_NOT_FOUND', idempotency_key: null });
        decided.set(job.purchaseId, { purchaseId: job.purchaseId, status: 'rejected', reason: reason ?? 'SALE_NOT_FOUND' });
        continue;
      }
      const orderId = randomUUID();
      const holdExpiresAt = new Date(Date.now() + sale.holdSeconds * 1000);
      remaining -= job.quantity;
      taken += job.quantity;
      totals.set(job.userId, held + job.quantity);
      if (job.idempotencyKey !== null) usedKeys.add(userKey);
      purchases.push({ ...base, status: 'confirmed', reason: null, idempotency_key: job.idempotencyKey, hold_expires_at: holdExpiresAt });
      orders.push({
        id: orderId,
        purchase_id: job.purchaseId,
        sale_id: saleId,
        user_id: job.userId,
        quantity: job.quantity,
        unit_price_cents: sale.priceCents,
        total_cents: sale.priceCents * job.quantity,
      });
      decided.set(job.purchaseId, { purchaseId: job.purchaseId, status: 'confirmed', orderId, holdExpiresAt: holdExpiresAt.toISOString() });
    }
    await insertDecisions(trx, purchases, orders);
    await takeStock(trx, saleId, taken);
    // The outbox: these decisions' webhook events commit with them (or not at all).
    const jobById = new Map(fresh.map((j) => [j.purchaseId, j]));
    await recordEvents(trx, purchaseEvents([...decided.values()].map((o) => ({ job: jobById.get(o.purchaseId)!, outcome: o }))));
    if (sale && taken > 0 && stockMarksChange(sale.stockMarks, remaining)) await noteStockLevel(trx, saleId);

    return jobs.map((j): PurchaseOutcome => {
      const prior = existing.get(j.purchaseId);
      if (prior) return fromExisting(prior);
      return decided.get(j.purchaseId) ?? { purchaseId: j.purchaseId, status: 'skipped' };
    });
  });

  await applyOutcomes(deps, saleId, jobs, outcomes);
  return outcomes;
}

/** After commit: the gate gives back rejected units (exactly once), and pollers see the result. */
async function applyOutcomes(deps: ProcessorDeps, saleId: string, jobs: AdmittedPurchase[], outcomes: PurchaseOutcome[]): Promise<void> {
  const final = outcomes.filter((o): o is DecidedOutcome => o.status !== 'skipped');
  if (final.length === 0) return;
  const jobById = new Map(jobs.map((j) => [j.purchaseId, j]));
  // The gate applies the outcomes and keeps their views (the read model) in one script.
  await scripts.finalize(
    deps.redis,
    deps.keys.sale(saleId),
    final.map((o) => {
      const job = jobById.get(o.purchaseId)!;
      return { ...o, view: storedView(outcomeView(job, o), job.userId) };
    }),
  );
  // Every confirmed purchase gets its expiry scheduled (idempotent: one job id per purchase).
  const held = final.flatMap((o) => (o.status === 'confirmed' ? [{ job: jobById.get(o.purchaseId)!, holdExpiresAt: new Date(o.holdExpiresAt) }] : []));
  if (deps.onConfirmed && held.length) await deps.onConfirmed(held);
  deps.onOutcomes?.(jobs, outcomes);
}

/**
 * A job that exhausted its retries: record it as rejected (PROCESSING_FAILED) and give
 * its units back, unless PostgreSQL already holds an outcome for it. Idempotent.
 */
export async function markProcessingFailed(deps: ProcessorDeps, job: AdmittedPurchase, failure: { error: string; attempts: number }): Promise<PurchaseOutcome> {
  const outcome = await underSaleLock(deps.db, job.saleId, async (trx) => {
    const prior = (await existingPurchases(trx, [job.purchaseId])).get(job.purchaseId);
    if (prior) return fromExisting(prior);
    await insertRejected(trx, job, 'PROCESSING_FAILED');
    const rejected = { purchaseId: job.purchaseId, status: 'rejected', reason: 'PROCESSING_FAILED' } as const;
    // A dead letter (listed, replayable) and its webhook event, with the outcome.
    await recordPurchaseFailure(trx, job, failure);
    await recordEvents(trx, purchaseEvents([{ job, outcome: rejected }]));
    return rejected;
  });
  await applyOutcomes(deps, job.saleId, [job], [outcome]);
  return outcome;
}
