import { RedisClient } from '../../lib/redis';
import { Db } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { Keys } from '../../gate/keys';
import { saleOutcomes, SaleOutcomes } from './outcomes';

/**
 * What PostgreSQL (and the gate) know about a sale, at any moment of its life: the facts a
 * load test audits. Decision latency (202 -> confirmed/rejected) is kept apart from what
 * became of the holds (held, paid, expired, cancelled), which the stats read the same way.
 */
export type SaleAudit = Omit<SaleOutcomes, 'remaining'> & {
  saleId: string;
  perUserLimit: number;
  remaining: { redis: number | null; postgres: number };
  /** Units the gate admitted and still counts as admitted (Redis stats). */
  admitted: { purchases: number; units: number };
  maxUnitsPerUser: number;
  usersOverLimit: number;
  purchasesWithMultipleOrders: number;
  ordersNotConfirmed: number;
  /** Time from admission (the 202) to the worker's decision; a hold's end later does not move it. */
  decisionLatencyMs: { p50: number; p99: number; max: number };
  /** Decisions per bucket of `bucketMs` (starting epoch ms), for the load-test report. */
  timeline: { bucketMs: number; points: { atMs: number; confirmed: number; rejected: number }[] };
};

export async function auditSale(deps: { db: Db; redis: RedisClient; keys: Keys }, saleId: string, opts: { bucketMs?: number } = {}): Promise<SaleAudit> {
  const { db } = deps;
  const sale = await db('sales').where({ id: saleId }).first<{ per_user_limit: number } | undefined>('per_user_limit');
  const outcomes = sale ? await saleOutcomes(db, saleId) : undefined;
  if (!sale || !outcomes) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
  const bucketMs = opts.bucketMs ?? 1000;

  const bindings = { saleId, limit: sale.per_user_limit, bucketMs };
  const q = async <T>(sql: string): Promise<T[]> => (await db.raw<{ rows: T[] }>(sql, bindings)).rows;
  const [perUser] = await q<{ max_units: string | null; over: string }>(
    `SELECT max(units) AS max_units, count(*) FILTER (WHERE units > :limit) AS over
       FROM (SELECT user_id, sum(quantity) AS units FROM orders WHERE sale_id = :saleId AND voided_at IS NULL GROUP BY user_id) t`,
  );
  const [multi] = await q<{ n: string }>(
    'SELECT count(*) AS n FROM (SELECT purchase_id FROM orders WHERE sale_id = :saleId GROUP BY purchase_id HAVING count(*) > 1) t',
  );
  const [orphans] = await q<{ n: string }>(
    `SELECT count(*) AS n FROM orders o JOIN purchases p ON p.id = o.purchase_id
      WHERE o.sale_id = :saleId AND o.voided_at IS NULL AND p.status NOT IN ('confirmed', 'paid')`,
  );
  const [latency] = await q<{ p50: number | null; p99: number | null; max: number | null }>(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max
       FROM (SELECT extract(epoch FROM decided_at - admitted_at) * 1000 AS ms FROM purchases WHERE sale_id = :saleId) t`,
  );
  const timeline = await q<{ at_ms: string; confirmed: string; rejected: string }>(
    `SELECT floor(extract(epoch FROM decided_at) * 1000 / :bucketMs)::bigint * :bucketMs AS at_ms,
            count(*) FILTER (WHERE status <> 'rejected') AS confirmed,
            count(*) FILTER (WHERE status = 'rejected') AS rejected
       FROM purchases WHERE sale_id = :saleId GROUP BY 1 ORDER BY 1`,
  );
  const k = deps.keys.sale(saleId);
  const [redisRemaining, stats] = await Promise.all([deps.redis.get(k.remaining), deps.redis.hgetall(k.stats)]);

  const { remaining: pgRemaining, ...rest } = outcomes;
  return {
    ...rest,
    saleId,
    perUserLimit: sale.per_user_limit,
    remaining: { redis: redisRemaining === null ? null : Number(redisRemaining), postgres: pgRemaining },
    admitted: { purchases: Number(stats.admitted ?? 0), units: Number(stats.admittedUnits ?? 0) },
    maxUnitsPerUser: Number(perUser?.max_units ?? 0),
    usersOverLimit: Number(perUser?.over ?? 0),
    purchasesWithMultipleOrders: Number(multi?.n ?? 0),
    ordersNotConfirmed: Number(orphans?.n ?? 0),
    decisionLatencyMs: {
      p50: Math.round(Number(latency?.p50 ?? 0)),
      p99: Math.round(Number(latency?.p99 ?? 0)),
      max: Math.round(Number(latency?.max ?? 0)),
    },
    timeline: {
      bucketMs,
      points: timeline.map((t) => ({ atMs: Number(t.at_ms), confirmed: Number(t.confirmed), rejected: Number(t.rejected) })),
    },
  };
}
