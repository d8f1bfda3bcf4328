import { JobType } from 'bullmq';
import { Gauge, Registry } from 'prom-client';
import { Db } from '../../lib/db';
import { METRIC_PREFIX } from '../../lib/metrics';
import { RedisClient } from '../../lib/redis';
import { persistenceStatus } from '../../lib/redis-durability';
import { Keys } from '../../gate/keys';
import { gatePending } from '../../gate/sale-gate';
import { openSaleIds } from '../sales/repository';
import { shardOf } from '../purchases/queue';

type CountedQueue = { name: string; getJobCounts(...types: JobType[]): Promise<Record<string, number>> };

/**
 * The queues a process reports, by kind (`purchases`, `holds`; the webhook delivery
 * queue joins with one more entry). Each kind is a list of shards.
 */
export type ReportedQueues = Record<string, readonly CountedQueue[]>;

export type StateGaugeDeps = { db: Db; redis: RedisClient; keys: Keys; queues: ReportedQueues };

const STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/**
 * Gauges of cluster-wide state, read at scrape time (nothing on the request path): jobs
 * per queue shard and state, each open sale's drift between the Redis gate and PostgreSQL,
 * and Redis persistence. Every API process reports the same values; aggregate with max.
 * A source that cannot answer (Redis or PostgreSQL down) leaves its series out of that
 * scrape instead of failing it: the process's own metrics still arrive.
 */
export function registerStateGauges(registry: Registry, deps: StateGaugeDeps): void {
  new Gauge({
    name: `${METRIC_PREFIX}queue_jobs`,
    help: 'BullMQ jobs per queue shard and state (a purchase job carries the purchases one API process admitted in one event-loop turn); waiting counts prioritized too',
    labelNames: ['queue', 'shard', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const rows = Object.entries(deps.queues).flatMap(([kind, shards]) => shards.map((q, shard) => ({ kind, shard, q })));
      await Promise.all(
        rows.map(async ({ kind, shard, q }) => {
          const counts = await q.getJobCounts(...STATES).catch(() => undefined);
          if (!counts) return;
          const labels = { queue: kind, shard: String(shard) };
          this.set({ ...labels, state: 'waiting' }, (counts.waiting ?? 0) + (counts.prioritized ?? 0));
          for (const state of ['active', 'delayed', 'failed'] as const) this.set({ ...labels, state }, counts[state] ?? 0);
        }),
      );
    },
  });

  // Two gauges from one read: both collect() calls of a scrape run together and share it.
  const sales = shared(async () => {
    const ids = await openSaleIds(deps.db, new Date());
    if (ids.length === 0) return [];
    const rows = await deps.db('sale_inventory').whereIn('sale_id', ids).select<{ sale_id: string; remaining: number }[]>('sale_id', 'remaining');
    const read = await Promise.all(rows.map(async (row) => ({ row, gate: await gatePending(deps.redis, deps.keys, row.sale_id).catch(() => undefined) })));
    return read.flatMap(({ row, gate }) =>
      gate && gate.remaining !== null ? [{ saleId: row.sale_id, pending: gate.pendingUnits, drift: gate.remaining + gate.pendingUnits - row.remaining }] : [],
    );
  });
  new Gauge({
    name: `${METRIC_PREFIX}sale_pending_units`,
    help: 'Units of admitted purchases the Redis gate still counts as pending (queued or being written), per open sale: the backlog in units',
    labelNames: ['sale_id'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await sales().catch(() => [])) this.labels(s.saleId).set(s.pending);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}queue_backlog_units`,
    help: 'Units of admitted purchases not decided yet, per purchase queue shard (the pending units of the open sales whose purchases that shard carries)',
    labelNames: ['shard'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const shards = deps.queues.purchases?.length ?? 0;
      if (shards === 0) return;
      const perShard = new Array<number>(shards).fill(0);
      for (const s of await sales().catch(() => [])) perShard[shardOf(s.saleId, shards)]! += s.pending;
      perShard.forEach((units, shard) => this.labels(String(shard)).set(units));
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}sale_drift_units`,
    help: 'Redis remaining + pending units - PostgreSQL remaining, per open sale: 0 when the gate agrees with PostgreSQL (a batch being committed shows for a moment); reconcile fixes it',
    labelNames: ['sale_id'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const s of await sales().catch(() => [])) this.labels(s.saleId).set(s.drift);
    },
  });

  const persistence = shared(() => persistenceStatus(deps.redis));
  new Gauge({
    name: `${METRIC_PREFIX}redis_aof_enabled`,
    help: '1 when the Redis master has AOF on (without it, purchases still queued are lost on a restart)',
    labelNames: ['node'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const n of await persistence().catch(() => [])) this.labels(n.node).set(n.aofEnabled ? 1 : 0);
    },
  });
  new Gauge({
    name: `${METRIC_PREFIX}redis_persistence_ok`,
    help: "1 when the Redis master's last AOF write and last RDB save both succeeded (0: it answers but no longer persists)",
    labelNames: ['node'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const n of await persistence().catch(() => [])) this.labels(n.node).set(n.aofLastWriteOk && n.rdbLastSaveOk ? 1 : 0);
    },
  });
}

/** One read shared by the callers that arrive while it runs (the gauges of one scrape). */
function shared<T>(read: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => (inFlight ??= read().finally(() => (inFlight = undefined)));
}
