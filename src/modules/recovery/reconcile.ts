import { RedisClient } from '../../lib/redis';
import { Db } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { Logger } from '../../lib/logger';
import { Keys, SALE_KEY_RETENTION_MS, scopedIdempotencyKey } from '../../gate/keys';
import { GateRecord, isPending, parseGateRecord } from '../../gate/record';
import { scripts } from '../../gate/scripts';
import { PurchaseQueues } from '../purchases/queue';
import { writeReadModel } from '../purchases/read-model';
import { underSaleLock } from '../../lib/sale-lock';
import { findSale } from '../sales/repository';
import { decidedPurchases, insertOrphansRejected, lockedInventory, pgCounts } from './queries';
import { PENDING_JOB_STATES, purchasesInJobs } from './queue-scan';

/** `graceMs`: ORPHAN_GRACE_MS, the same bound the orphan sweep uses (an enqueue may still land until then). */
export type ReconcileDeps = { db: Db; redis: RedisClient; keys: Keys; queues: PurchaseQueues; logger: Logger; graceMs: number };

/** What a reconciliation found and did. */
export type ReconcileReport = {
  saleId: string;
  /** The gate had no record of the sale (its keys were lost or expired). */
  keysWereMissing: boolean;
  before: { redisRemaining: number | null; pgRemaining: number };
  after: { redisRemaining: number; pgRemaining: number };
  stock: number;
  /** Units in confirmed orders (PostgreSQL). */
  sold: number;
  /** Units of unpaid purchases: none until holds exist. */
  held: number;
  /** Admitted purchases PostgreSQL has not decided yet (queued jobs, or just admitted): their units stay taken. */
  inflight: { purchases: number; units: number };
  /** Purchases PostgreSQL had decided while the gate still counted them pending: closed in the gate now. */
  settled: number;
  /** Purchases admitted more than `ORPHAN_GRACE_MS` ago that never reached the queue: rejected (ENQUEUE_FAILED), as the orphan sweep would. */
  orphansRejected: number;
  /** How far the gate's remaining was off: remaining before minus remaining after (null: the gate had none). */
  drift: number | null;
};

/** Keys of a sale rebuilt after its planned expiry live at least this long (an ended sale still answers SALE_ENDED). */
const MIN_REBUILT_TTL_MS = 3600_000;



/**
 * Rebuilds the sale's Redis gate from PostgreSQL: remaining = PostgreSQL's remaining
 * minus the units of purchases still in flight, per-user units = confirmed units plus
 * in-flight ones, and a `queued` record for every queued job Redis lost, so the worker's
 * claim and finalize apply to it exactly once. Runs under the sale's advisory lock (no
 * worker commits meanwhile) and commits only after Redis is rebuilt, in one script.
 */
export async function reconcileSale(deps: ReconcileDeps, saleId: string, nowMs = Date.now()): Promise<ReconcileReport> {
  const k = deps.keys.sale(saleId);
  const { report, orphans } = await underSaleLock(deps.db, saleId, async (trx) => {
    const sale = await findSale(trx, saleId);
    const inventory = await lockedInventory(trx, saleId);
    if (!sale || !inventory) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');

    // Under the lock, a job of an undecided purchase stays in a pending state: only a
    // commit (which waits for the lock) can complete or remove it.
    const jobs = await purchasesInJobs(deps.queues.forSale(saleId), PENDING_JOB_STATES, saleId);
    const snapshot = await deps.redis.multi().get(k.remaining).hgetall(k.purchases).exists(k.idempotency).exec();
    if (!snapshot || snapshot.some(([err]) => err)) throw snapshot?.find(([err]) => err)?.[0] ?? new Error('gate snapshot discarded');
    const redisRemaining = snapshot[0]![1] as string | null;
    const entries = new Map<string, GateRecord>();
    for (const [id, rec] of Object.entries(snapshot[1]![1] as Record<string, string>)) {
      const e = parseGateRecord(rec);
      if (e) entries.set(id, e);
    }
    const idemKnown = snapshot[2]![1] === 1;

    const pendingInGate = [...entries].filter(([, e]) => isPending(e)).map(([id]) => id);
    const decided = await decidedPurchases(trx, [...new Set([...pendingInGate, ...jobs.keys()])]);

    // Jobs PostgreSQL has not decided are in flight; a lost record is recreated from the job.
    const inflightJobs = [...jobs.values()].filter((j) => !decided.has(j.purchaseId));
    const lostRecords = inflightJobs.filter((j) => !entries.has(j.purchaseId));
    const released = await releasedBeforeLoss(deps, saleId, lostRecords.map((j) => j.purchaseId));

    const orphans = pendingInGate
      .filter((id) => !decided.has(id) && !jobs.has(id) && entries.get(id)!.createdAtMs < nowMs - deps.graceMs)
      .map((id) => ({ id, ...entries.get(id)! }));
    await insertOrphansRejected(trx, saleId, orphans);

    const pg = await pgCounts(trx, saleId, !idemKnown);
    const expireAt = Math.max(sale.endsAt.getTime() + SALE_KEY_RETENTION_MS, nowMs + MIN_REBUILT_TTL_MS);
    const payload = {
      meta: [
        'startsAt', String(sale.startsAt.getTime()),
        'endsAt', String(sale.endsAt.getTime()),
        'cancelled', sale.cancelledAt ? '1' : '0',
        'perUserLimit', String(sale.perUserLimit),
        'stock', String(sale.stock),
        // A waiting room's flag comes back with the gate: admit-8 must keep asking for passes.
        'room', sale.waitingRoom ? '1' : '0',
      ],
      pgRemaining: String(inventory.remaining),
      users: pg.users,
      decided: Object.fromEntries([...decided].filter(([id]) => entries.has(id)).map(([id, d]) => [id, [d.status, d.reason ?? 'REJECTED']])),
      orphans: Object.fromEntries(orphans.map((o) => [o.id, true])),
      jobs: inflightJobs.map((j) => [
        j.purchaseId,
        String(j.quantity),
        String(j.admittedAt),
        j.userId,
        j.idempotencyKey === null ? '' : scopedIdempotencyKey(j.userId, j.idempotencyKey),
        released.has(j.purchaseId) ? 'rejected' : '',
      ]),
      keyed: pg.keyed,
      stats: pg.stats,
      expireAt: String(expireAt),
    };
    const [remainingAfter, inflight, inflightUnits, hadMeta, settled, orphaned] = await scripts.rebuild(deps.redis, k, JSON.stringify(payload));

    const before = redisRemaining === null ? null : Number(redisRemaining);
    const report: ReconcileReport = {
      saleId,
      keysWereMissing: hadMeta === 0,
      before: { redisRemaining: before, pgRemaining: inventory.remaining },
      after: { redisRemaining: remainingAfter, pgRemaining: inventory.remaining },
      stock: inventory.stock,
      sold: pg.sold,
      held: 0,
      inflight: { purchases: inflight, units: inflightUnits },
      settled,
      orphansRejected: orphaned,
      drift: before === null ? null : before - remainingAfter,
    };
    return { report, orphans };
  });

  // After commit: pollers of an orphan see its end (a late enqueue finds it decided in PostgreSQL).
  await writeReadModel(
    deps.redis,
    deps.keys,
    orphans.map((o) => ({
      purchaseId: o.id,
      saleId,
      userId: o.userId,
      quantity: o.quantity,
      status: 'rejected' as const,
      reason: 'ENQUEUE_FAILED',
      createdAt: new Date(o.createdAtMs).toISOString(),
    })),
  ).catch((err: Error) => deps.logger.warn('read model write after reconcile failed', { saleId, err: err.message }));
  return report;
}

/**
 * Of queued jobs whose gate record Redis lost, those the API had already released (its
 * enqueue "failed" but landed; the shopper got 503): their poller view says rejected.
 */
async function releasedBeforeLoss(deps: ReconcileDeps, saleId: string, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const replies = await deps.redis.hmget(deps.keys.sale(saleId).views, ...ids).catch(() => ids.map(() => null));
  const out = new Set<string>();
  replies.forEach((value, i) => {
    if (typeof value !== 'string') return;
    try {
      if ((JSON.parse(value) as { status?: string }).status === 'rejected') out.add(ids[i]!);
    } catch {
      /* not ours: ignore */
    }
  });
  return out;
}

