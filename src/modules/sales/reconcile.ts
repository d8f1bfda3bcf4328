import { Knex } from 'knex';
import { Redis } from 'ioredis';
import { Db } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { Logger } from '../../lib/logger';
import { Keys, scopedIdempotencyKey } from '../../gate/keys';
import { GateRecord, isPending, parseGateRecord } from '../../gate/record';
import { scripts } from '../../gate/scripts';
import { PurchaseJob } from '../purchases/job';
import { PurchaseQueue } from '../purchases/queue';
import { writeFinal } from '../purchases/read-model';
import { underSaleLock } from '../../lib/sale-lock';
import { SALE_KEY_RETENTION_MS } from '../../gate/keys';
import { findSale } from './repository';

export type ReconcileDeps = { db: Db; redis: Redis; keys: Keys; queue: PurchaseQueue; logger: Logger };

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
  /** Purchases admitted more than `ORPHAN_GRACE_MS` ago that never reached the queue: rejected (ENQUEUE_FAILED). */
  orphansRejected: number;
  /** How far the gate's remaining was off: remaining before minus remaining after (null: the gate had none). */
  drift: number | null;
};

/**
 * A purchase recorded in the gate but neither queued nor decided is given this long
 * for the API's enqueue to land before reconciliation rejects it (ENQUEUE_FAILED).
 */
export const ORPHAN_GRACE_MS = 60_000;

/** Keys of a sale rebuilt after its planned expiry live at least this long (an ended sale still answers SALE_ENDED). */
const MIN_REBUILT_TTL_MS = 3600_000;

/** Every job state in which an undecided purchase can wait (completed jobs are decided or were skipped). */
const PENDING_JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'failed', 'waiting-children'] as const;


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
    const inventory = await trx('sale_inventory')
      .where({ sale_id: saleId })
      .forUpdate()
      .first<{ stock: number; remaining: number } | undefined>('stock', 'remaining');
    if (!sale || !inventory) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');

    // Under the lock, a job of an undecided purchase stays in a pending state: only a
    // commit (which waits for the lock) can complete or remove it.
    const jobs = await pendingJobs(deps.queue, saleId);
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
    const released = await releasedBeforeLoss(deps, lostRecords.map((j) => j.purchaseId));

    const orphans = pendingInGate
      .filter((id) => !decided.has(id) && !jobs.has(id) && entries.get(id)!.createdAtMs < nowMs - ORPHAN_GRACE_MS)
      .map((id) => ({ id, ...entries.get(id)! }));
    for (let i = 0; i < orphans.length; i += 1000) {
      await trx('purchases')
        .insert(
          orphans.slice(i, i + 1000).map((o) => ({
            id: o.id,
            sale_id: saleId,
            user_id: o.userId,
            quantity: o.quantity,
            status: 'rejected',
            reason: 'ENQUEUE_FAILED',
            idempotency_key: null,
            admitted_at: new Date(o.createdAtMs),
          })),
        )
        .onConflict('id')
        .ignore();
    }

    const pg = await pgCounts(trx, saleId, !idemKnown);
    const expireAt = Math.max(sale.endsAt.getTime() + SALE_KEY_RETENTION_MS, nowMs + MIN_REBUILT_TTL_MS);
    const payload = {
      meta: [
        'startsAt', String(sale.startsAt.getTime()),
        'endsAt', String(sale.endsAt.getTime()),
        'cancelled', sale.cancelledAt ? '1' : '0',
        'perUserLimit', String(sale.perUserLimit),
        'stock', String(sale.stock),
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
  await writeFinal(
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

/** The sale's jobs waiting in the queue (any pending state), by purchase id. One atomic listing. */
async function pendingJobs(queue: PurchaseQueue, saleId: string): Promise<Map<string, PurchaseJob>> {
  const jobs = await queue.getJobs([...PENDING_JOB_STATES], 0, -1);
  const out = new Map<string, PurchaseJob>();
  for (const job of jobs) {
    for (const p of job?.data?.purchases ?? []) if (p.saleId === saleId) out.set(p.purchaseId, p);
  }
  return out;
}

async function decidedPurchases(trx: Knex.Transaction, ids: string[]): Promise<Map<string, { status: string; reason: string | null }>> {
  if (ids.length === 0) return new Map();
  // One array parameter, however many ids (a bind list would stop at 65,535).
  const { rows } = await trx.raw<{ rows: { id: string; status: string; reason: string | null }[] }>(
    'SELECT id, status, reason FROM purchases WHERE id = ANY(?::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { status: r.status, reason: r.reason }]));
}

/**
 * Of queued jobs whose gate record Redis lost, those the API had already released (its
 * enqueue "failed" but landed; the shopper got 503): their poller view says rejected.
 */
async function releasedBeforeLoss(deps: ReconcileDeps, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const tx = deps.redis.pipeline();
  for (const id of ids) tx.get(deps.keys.purchase(id));
  const replies = (await tx.exec()) ?? [];
  const out = new Set<string>();
  replies.forEach(([err, value], i) => {
    if (err || typeof value !== 'string') return;
    try {
      if ((JSON.parse(value) as { status?: string }).status === 'rejected') out.add(ids[i]!);
    } catch {
      /* not ours: ignore */
    }
  });
  return out;
}

/** PostgreSQL's side of the gate: confirmed units per user, sold units, counters, keyed purchases. */
async function pgCounts(trx: Knex.Transaction, saleId: string, withKeyed: boolean) {
  const perUser = await trx('purchases')
    .where({ sale_id: saleId })
    .whereIn('status', ['confirmed', 'paid'])
    .groupBy('user_id')
    .select<{ user_id: string; units: string }[]>('user_id', trx.raw('sum(quantity) AS units'));
  const byStatus = await trx('purchases')
    .where({ sale_id: saleId })
    .groupBy('status', 'reason')
    .select<{ status: string; reason: string | null; n: string; units: string }[]>(
      'status',
      'reason',
      trx.raw('count(*) AS n'),
      trx.raw('sum(quantity) AS units'),
    );
  const sold = await trx('orders').where({ sale_id: saleId }).whereNull('voided_at').first<{ units: string | null }>(trx.raw('sum(quantity) AS units'));
  const keyed = withKeyed
    ? await trx('purchases')
        .where({ sale_id: saleId })
        .whereNotNull('idempotency_key')
        .whereIn('status', ['confirmed', 'paid'])
        .select<{ id: string; user_id: string; quantity: number; status: string; idempotency_key: string; admitted_at: Date }[]>(
          'id',
          'user_id',
          'quantity',
          'status',
          'idempotency_key',
          'admitted_at',
        )
    : [];

  const stats = { admitted: 0, admittedUnits: 0, confirmed: 0, rejected: {} as Record<string, number> };
  for (const row of byStatus) {
    const n = Number(row.n);
    // A purchase the API released (ENQUEUE_FAILED) no longer counts as admitted, as in release-6.
    if (row.reason !== 'ENQUEUE_FAILED') {
      stats.admitted += n;
      stats.admittedUnits += Number(row.units);
    }
    if (row.status === 'rejected') {
      const reason = row.reason ?? 'REJECTED';
      stats.rejected[reason] = (stats.rejected[reason] ?? 0) + n;
    } else stats.confirmed += n;
  }
  return {
    users: Object.fromEntries(perUser.map((r) => [r.user_id, String(r.units)])),
    sold: Number(sold?.units ?? 0),
    stats,
    keyed: keyed.map((r) => [
      r.id,
      r.status,
      String(r.quantity),
      String(r.admitted_at.getTime()),
      r.user_id,
      scopedIdempotencyKey(r.user_id, r.idempotency_key),
    ]),
  };
}

/** Sales reconciling right now, per gate client: one at a time per sale and process. */
const running = new WeakMap<Redis, Map<string, Promise<void>>>();
/** After a failed reconciliation, further requests for the sale wait this long before trying again. */
const RETRY_AFTER_FAILURE_MS = 1000;

/**
 * Starts a reconciliation of the sale unless one is already running for it in this
 * process, and returns it. Never rejects: failures are logged.
 */
export function requestReconcile(deps: ReconcileDeps, saleId: string): Promise<void> {
  let bySale = running.get(deps.redis);
  if (!bySale) running.set(deps.redis, (bySale = new Map()));
  const current = bySale.get(saleId);
  if (current) return current;
  const runs = bySale;
  const run = reconcileSale(deps, saleId).then(
    (report) => {
      runs.delete(saleId);
      deps.logger.warn('sale gate rebuilt from PostgreSQL', { ...report });
    },
    (err: Error) => {
      deps.logger.error('sale reconciliation failed', { saleId, err: err.message });
      setTimeout(() => runs.delete(saleId), RETRY_AFTER_FAILURE_MS).unref();
    },
  );
  bySale.set(saleId, run);
  return run;
}

const START_CONCURRENCY = 4;

/**
 * Reconciles every sale that is neither ended nor cancelled and whose gate record is
 * missing (a Redis without persistence lost it). A worker runs this before taking jobs.
 * Never rejects: a failure is logged, and the admission path retries per sale.
 */
export async function reconcileMissingSales(deps: ReconcileDeps): Promise<ReconcileReport[]> {
  const reports: ReconcileReport[] = [];
  try {
    const open = await deps.db('sales').whereNull('cancelled_at').where('ends_at', '>', new Date()).select<{ id: string }[]>('id');
    const present = await Promise.all(open.map(({ id }) => deps.redis.exists(deps.keys.sale(id).meta, deps.keys.sale(id).remaining)));
    const missing = open.filter((_, i) => present[i] !== 2).map(({ id }) => id);
    // A few at a time: after a flush every open sale is missing, and each one waits for its lock.
    const next = () => missing.shift();
    await Promise.all(
      Array.from({ length: Math.min(START_CONCURRENCY, missing.length) }, async () => {
        for (let id = next(); id !== undefined; id = next()) {
          try {
            const report = await reconcileSale(deps, id);
            deps.logger.warn('sale gate was missing; rebuilt from PostgreSQL', { ...report });
            reports.push(report);
          } catch (err) {
            deps.logger.error('sale reconciliation at start failed; admissions will retry it', { saleId: id, err: (err as Error).message });
          }
        }
      }),
    );
  } catch (err) {
    deps.logger.error('could not look for sales missing from the gate', { err: (err as Error).message });
  }
  return reports;
}

/**
 * The gate's remaining units and the units of purchases it still counts as pending
 * (queued, or claimed by a worker), read atomically: what stats compare with PostgreSQL.
 * O(1): the scripts keep `pendingUnits` in the stats hash (admit +, release/finalize −,
 * rebuild sets it), so the admin page polling stats never scans the purchases hash.
 */
export async function gatePending(redis: Redis, keys: Keys, saleId: string): Promise<{ remaining: number | null; pendingUnits: number }> {
  const k = keys.sale(saleId);
  const replies = await redis.multi().get(k.remaining).hget(k.stats, 'pendingUnits').exec();
  const failed = replies?.find(([err]) => err);
  if (!replies || failed) throw failed?.[0] ?? new Error('gate read discarded');
  const remaining = replies[0]![1] as string | null;
  return { remaining: remaining === null ? null : Number(remaining), pendingUnits: Number(replies[1]![1] ?? 0) };
}
