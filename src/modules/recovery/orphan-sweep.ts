import { RedisClient } from '../../lib/redis';
import { Db } from '../../lib/db';
import { Logger } from '../../lib/logger';
import { Keys, SALE_KEY_RETENTION_MS } from '../../gate/keys';
import { scripts } from '../../gate/scripts';
import { NotifyOwner } from '../../realtime/emitter';
import { PurchaseQueues } from '../purchases/queue';
import { writeReadModel } from '../purchases/read-model';
import { recordNotQueued } from '../purchases/not-queued';
import { salesEndingAfter } from '../sales/repository';
import { LIVE_JOB_STATES, purchasesInJobs } from './queue-scan';
import { Reconciler } from './reconciler';
import { Periodic, runEvery } from '../../lib/periodic';

/**
 * The orphan sweep: settles purchases the gate admitted whose queue job never landed.
 *
 * An admission records the purchase in its sale's `unqueued` hash; the API's marker after
 * its add, a worker's claim, a release or a finalize removes it. What is still there after
 * `graceMs` had its enqueue refused with a failed compensation, its gate reply lost, or its
 * API node killed between the gate and the add. Such a purchase is rejected
 * (ENQUEUE_FAILED) and its units go back, in the gate first (status-guarded, so a worker
 * that claimed it meanwhile keeps it, and a job that turns up later is skipped), then in
 * PostgreSQL (so a Redis that later loses the record cannot let a late job confirm it).
 *
 * Cheap when nothing is wrong: one small query for the sales whose keys still live, and
 * per sale one script that reads a hash holding only the adds in flight. The queue is
 * listed only when candidates exist, so that a purchase whose job did land (its marker
 * was lost) is left to the worker instead of being rejected.
 */
export type OrphanSweepDeps = {
  db: Db;
  redis: RedisClient;
  keys: Keys;
  queues: PurchaseQueues;
  logger: Logger;
  notify?: NotifyOwner;
  graceMs: number;
};

export type SweepReport = { sales: number; candidates: number; inJobs: number; rejected: number };

export const ORPHAN_REASON = 'ENQUEUE_FAILED';
/** Most candidates one sale yields per sweep (the next sweep takes the rest). */
const PER_SALE_LIMIT = 1000;

/** Every sale whose gate keys may still exist (cancelled and ended ones included). */
const salesWithLiveKeys = (deps: OrphanSweepDeps, nowMs: number) => salesEndingAfter(deps.db, new Date(nowMs - SALE_KEY_RETENTION_MS));

/** `saleIds`: the sales to look at, when the caller already listed them (default: those whose keys may still exist). */
export async function sweepOrphans(deps: OrphanSweepDeps, nowMs = Date.now(), saleIds?: string[]): Promise<SweepReport> {
  const sales = saleIds ?? (await salesWithLiveKeys(deps, nowMs)).map((s) => s.id);
  const report: SweepReport = { sales: sales.length, candidates: 0, inJobs: 0, rejected: 0 };
  const cutoff = nowMs - deps.graceMs;
  const found = await Promise.all(sales.map((id) => scripts.orphanCandidates(deps.redis, deps.keys.sale(id), cutoff, PER_SALE_LIMIT)));
  const bySale = sales.map((saleId, i) => ({ saleId, candidates: found[i]! })).filter((s) => s.candidates.length > 0);
  if (bySale.length === 0) return report;

  // Each candidate sale's shard, listed once.
  const shards = [...new Set(bySale.map((s) => deps.queues.shardOf(s.saleId)))];
  const listings = await Promise.all(shards.map((i) => purchasesInJobs(deps.queues.shards[i]!, LIVE_JOB_STATES)));
  const queued = new Set(listings.flatMap((m) => [...m.keys()]));
  for (const { saleId, candidates } of bySale) {
    report.candidates += candidates.length;
    const k = deps.keys.sale(saleId);
    const withJob = candidates.filter((id) => queued.has(id));
    const orphans = candidates.filter((id) => !queued.has(id));
    // Their job exists (the API's marker was lost): the worker's claim settles them.
    if (withJob.length > 0) await deps.redis.hdel(k.unqueued, ...withJob);
    report.inJobs += withJob.length;
    if (orphans.length === 0) continue;

    const rejected = (await scripts.rejectOrphans(deps.redis, k, ORPHAN_REASON, orphans)).map(([purchaseId, quantity, createdAtMs, userId]) => ({
      purchaseId,
      saleId,
      userId,
      quantity: Number(quantity),
      status: 'rejected' as const,
      reason: ORPHAN_REASON,
      createdAt: new Date(Number(createdAtMs)).toISOString(),
    }));
    if (rejected.length === 0) continue;
    report.rejected += rejected.length;
    await recordNotQueued(deps.db, saleId, rejected);
    await writeReadModel(deps.redis, deps.keys, rejected);
    for (const p of rejected) {
      const { userId, ...view } = p;
      deps.notify?.(userId, view);
    }
    deps.logger.warn('orphaned purchases rejected and their units given back', { saleId, purchases: rejected.length });
  }
  return report;
}

export type RunningSweep = Periodic;

/**
 * Runs the sweep every `everyMs` in this process. With many workers, a short Redis lease
 * lets one of them sweep per period (the sweep is safe to run twice at once, just wasteful).
 */
export function startOrphanSweep(deps: OrphanSweepDeps & { reconciler: Reconciler }, everyMs: number, leaseKey: string): RunningSweep {
  const tick = async () => {
    const leased = await deps.redis.set(leaseKey, '1', 'PX', Math.max(100, everyMs - 50), 'NX');
    if (leased !== 'OK') return;
    const nowMs = Date.now();
    const sales = await salesWithLiveKeys(deps, nowMs);
    // An open sale with no gate would show 0 left and never be tried: rebuild it first.
    await deps.reconciler.rebuildMissing(nowMs, sales.filter((s) => !s.cancelled && s.endsAt.getTime() > nowMs).map((s) => s.id));
    const report = await sweepOrphans(deps, nowMs, sales.map((s) => s.id));
    if (report.candidates > 0) deps.logger.info('orphan sweep', { ...report });
  };
  return runEvery(everyMs, tick, (err) => deps.logger.warn('orphan sweep failed; the next one retries', { err: err.message }));
}
