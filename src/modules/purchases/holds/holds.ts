import { RedisClient } from '../../../lib/redis';
import { Job, Queue, Worker } from 'bullmq';
import { Db } from '../../../lib/db';
import { Logger } from '../../../lib/logger';
import { Keys } from '../../../gate/keys';
import { scripts } from '../../../gate/scripts';
import { NotifyOwner } from '../../../realtime/emitter';
import { underSaleLock } from '../../../lib/sale-lock';
import { dueHolds, endHold, holdEnds, lockHold } from './repository';
import { AdmittedPurchase } from '../job';
import { Sharded } from '../queue';
import { writeReadModel } from '../read-model';
import { HoldEndReason, PurchaseView, purchaseView } from '../view';
import { noteStockLevel, recordEvents } from '../../webhooks/outbox';
import { purchaseEventData } from '../webhook-events';

/**
 * Holds: a confirmed purchase keeps its units until it is paid or its hold ends. The end
 * is a delayed BullMQ job on its own queue (so the purchase queue's backlog and drain
 * stay about purchases); a sweep at worker start expires holds whose job was lost.
 *
 * One delayed job carries every hold of a committed batch that ends in the same second:
 * a job per purchase cost the worker and Redis more than the purchase's own write.
 */
export type Hold = Pick<AdmittedPurchase, 'purchaseId' | 'saleId' | 'userId' | 'quantity' | 'admittedAt'>;
export type HoldJobData = { saleId: string; holds: Hold[] };
export type HoldQueue = Queue<HoldJobData>;

export const HOLD_JOB_NAME = 'expire-holds';
export const holdQueueName = (purchaseQueueName: string) => `${purchaseQueueName}-holds`;

export function createHoldQueue(connection: RedisClient, opts: { purchaseQueueName: string; prefix: string }): HoldQueue {
  return new Queue<HoldJobData>(holdQueueName(opts.purchaseQueueName), {
    connection,
    prefix: opts.prefix,
    defaultJobOptions: {
      attempts: 20,
      backoff: { type: 'exponential', delay: 500 },
      removeOnComplete: { age: 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
}

export type HoldQueues = Sharded<HoldQueue>;

/** A hold queue beside each purchase queue shard (same hash tag): a sale's holds live in its shard. */
export function holdQueuesFor(connection: RedisClient, opts: { purchaseQueueName: string; shards: number; prefixOf: (shard: number) => string }): HoldQueues {
  return new Sharded(Array.from({ length: opts.shards }, (_, shard) => createHoldQueue(connection, { purchaseQueueName: opts.purchaseQueueName, prefix: opts.prefixOf(shard) })));
}

/** Schedules each sale's holds on that sale's shard. */
export function scheduleOnShards(queues: HoldQueues, held: { job: Hold; holdExpiresAt: Date }[]) {
  const bySale = new Map<string, typeof held>();
  for (const h of held) {
    const items = bySale.get(h.job.saleId);
    if (items) items.push(h);
    else bySale.set(h.job.saleId, [h]);
  }
  return Promise.all([...bySale].map(([saleId, items]) => scheduleHoldExpiries(queues.forSale(saleId), items)));
}

const holdData = (job: Hold): Hold => ({
  purchaseId: job.purchaseId,
  saleId: job.saleId,
  userId: job.userId,
  quantity: job.quantity,
  admittedAt: job.admittedAt,
});

/**
 * Schedules the end of a batch's holds: one delayed job per sale and expiry second, due
 * at the end of that second (a hold ends at most 1 s late, never early). Named after its
 * first purchase, so a redelivered batch schedules nothing new; a batch put together
 * differently on redelivery schedules a second job, which finds the holds settled.
 */
export function scheduleHoldExpiries(queue: HoldQueue, held: { job: Hold; holdExpiresAt: Date }[], suffix = '') {
  const buckets = new Map<string, { saleId: string; dueMs: number; holds: Hold[] }>();
  for (const { job, holdExpiresAt } of held) {
    const dueMs = Math.ceil(holdExpiresAt.getTime() / 1000) * 1000;
    const key = `${job.saleId}/${dueMs}`;
    const bucket = buckets.get(key) ?? { saleId: job.saleId, dueMs, holds: [] };
    bucket.holds.push(holdData(job));
    buckets.set(key, bucket);
  }
  // BullMQ times a delay from the job's timestamp: give it the same clock reading, so the
  // job is due exactly at the end of the second (not a millisecond after).
  const now = Date.now();
  return queue.addBulk(
    [...buckets.values()].map((b) => ({
      name: HOLD_JOB_NAME,
      data: { saleId: b.saleId, holds: b.holds },
      opts: { jobId: `holds-${b.holds[0]!.purchaseId}${suffix}`, timestamp: now, delay: Math.max(0, b.dueMs - now) },
    })),
  );
}

export type HoldDeps = { db: Db; redis: RedisClient; keys: Keys; logger: Logger; notify?: NotifyOwner; onHoldExpired?: () => void };

/** How an unpaid hold ends: its time ran out, or its shopper gave it up. */
const HOW = {
  expired: { status: 'expired', reason: HoldEndReason.expired },
  cancelled: { status: 'cancelled', reason: HoldEndReason.cancelled },
} as const;

/**
 * Ends an unpaid hold, the one mechanism behind expiry and the shopper's cancel: in
 * PostgreSQL under the sale's lock (so a payment and an end can never both win) the
 * purchase takes its end status, its units go back to the stock row and its order is
 * voided; then the gate gets the units back exactly once (settle-hold-4.lua). The gate step
 * also runs when an earlier call ended it (a redelivered job, a retried cancel): it is
 * idempotent and repairs a call whose Redis step failed. `onlyWhenDue`: an expiry never
 * ends a hold early. Returns the purchase's status now, and when it ended if it did.
 */
async function endUnpaidHold(deps: HoldDeps, hold: Hold, how: keyof typeof HOW, opts: { onlyWhenDue: boolean }) {
  const result = await underSaleLock(deps.db, hold.saleId, async (trx) => {
    const row = await lockHold(trx, hold.purchaseId);
    if (!row) return { status: undefined, endedNow: false };
    if (row.status !== 'confirmed') return { status: row.status, endedAt: row.hold_ended_at ?? undefined, endedNow: false };
    if (opts.onlyWhenDue && !row.due) return { status: 'not-due', endedNow: false };
    const endedAt = await endHold(trx, hold, HOW[how]);
    // The outbox, in the same transaction: purchase.expired / purchase.cancelled, and the
    // units back may lift the sale above its low-stock threshold or out of sold out.
    await recordEvents(trx, [{ type: `purchase.${how}`, data: purchaseEventData(hold, { ...HOW[how], holdEndedAt: endedAt.toISOString() }) }]);
    await noteStockLevel(trx, hold.saleId);
    return { status: how as string, endedAt, endedNow: true };
  });
  if (result.status === how) await scripts.settleHold(deps.redis, deps.keys.sale(hold.saleId), hold.purchaseId, how);
  return result;
}

/** Ends an unpaid hold whose time has come, once; the owner is told. */
export async function expireHold(deps: HoldDeps, job: Hold): Promise<'expired' | 'not-due' | 'settled'> {
  const r = await endUnpaidHold(deps, job, 'expired', { onlyWhenDue: true });
  if (r.status === 'not-due') return 'not-due';
  if (!r.endedNow || !r.endedAt) return 'settled';
  await announceHoldEnd(deps, job, 'expired', r.endedAt);
  deps.onHoldExpired?.();
  return 'expired';
}

/** The shopper gives the hold up now; returns the status it has after (cancelled, or why not). */
export async function cancelHold(deps: HoldDeps, hold: Hold): Promise<{ status: string | undefined; view?: PurchaseView }> {
  const r = await endUnpaidHold(deps, hold, 'cancelled', { onlyWhenDue: false });
  // Announced also when an earlier call cancelled it: that call's read-model write may have failed.
  if (r.status !== 'cancelled' || !r.endedAt) return { status: r.status };
  return { status: r.status, view: await announceHoldEnd(deps, hold, 'cancelled', r.endedAt) };
}

/** After PostgreSQL committed the end of an unpaid hold: pollers and the owner's sockets see it. */
async function announceHoldEnd(deps: HoldDeps, hold: Hold, how: keyof typeof HOW, endedAt: Date): Promise<PurchaseView> {
  const view = purchaseView({
    purchaseId: hold.purchaseId,
    saleId: hold.saleId,
    quantity: hold.quantity,
    ...HOW[how],
    holdEndedAt: endedAt.toISOString(),
    createdAt: new Date(hold.admittedAt).toISOString(),
  });
  await writeReadModel(deps.redis, deps.keys, [{ ...view, userId: hold.userId }]);
  deps.notify?.(hold.userId, view);
  return view;
}

/** Expires holds whose delayed job was lost (e.g. Redis lost its data). */
export async function sweepExpiredHolds(deps: HoldDeps, limit = 500): Promise<number> {
  const rows = await dueHolds(deps.db, limit);
  let expired = 0;
  for (const r of rows) {
    const outcome = await expireHold(deps, {
      purchaseId: r.id,
      saleId: r.sale_id,
      userId: r.user_id,
      quantity: r.quantity,
      admittedAt: r.admitted_at.getTime(),
    });
    if (outcome === 'expired') expired++;
  }
  return expired;
}

/** The hold worker: ends each hold of a batch whose time has come; early ones are put off again. */
export function startHoldWorker(deps: HoldDeps & { queue: HoldQueue; connection: RedisClient }): Worker<HoldJobData> {
  const worker = new Worker<HoldJobData>(
    deps.queue.name,
    async (job: Job<HoldJobData>) => {
      // One transaction per hold: each is idempotent, so a retried job skips the settled ones.
      const early: Hold[] = [];
      for (const hold of job.data.holds) if ((await expireHold(deps, hold)) === 'not-due') early.push(hold);
      if (early.length === 0) return;
      // Fired a little early (clocks): look again shortly with a fresh job.
      const due = await holdEnds(deps.db, early.map((h) => h.purchaseId));
      await scheduleHoldExpiries(
        deps.queue,
        early.map((h) => ({ job: h, holdExpiresAt: due.get(h.purchaseId) ?? new Date(Date.now() + 1000) })),
        `-${job.attemptsMade}-${Date.now()}`,
      );
    },
    { connection: deps.connection, prefix: deps.queue.opts.prefix, concurrency: 20 },
  );
  worker.on('error', (err) => deps.logger.error('hold worker error', { err: err.message }));
  return worker;
}
