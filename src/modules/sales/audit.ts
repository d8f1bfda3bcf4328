import { Redis } from 'ioredis';
import { Db } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { Keys } from '../../gate/keys';

/** What PostgreSQL (and the gate) know about a sale after a run: the facts a load test audits. */
export type SaleAudit = {
  saleId: string;
  stock: number;
  perUserLimit: number;
  remaining: { redis: number | null; postgres: number };
  /** Units the gate admitted and still counts as admitted (Redis stats). */
  admitted: { purchases: number; units: number };
  orders: number;
  unitsOrdered: number;
  purchases: { confirmed: number; rejected: number; rejectedUnits: number; byReason: Record<string, number> };
  maxUnitsPerUser: number;
  usersOverLimit: number;
  purchasesWithMultipleOrders: number;
  ordersNotConfirmed: number;
  /** Time from admission (the 202) to the worker's decision. */
  decisionLatencyMs: { p50: number; p99: number; max: number };
  /** Decisions per second (epoch seconds), for the load-test report. */
  timeline: { second: number; confirmed: number; rejected: number }[];
};

export async function auditSale(deps: { db: Db; redis: Redis; keys: Keys }, saleId: string): Promise<SaleAudit> {
  const { db } = deps;
  const sale = await db('sales as s')
    .join('sale_inventory as i', 'i.sale_id', 's.id')
    .where('s.id', saleId)
    .first<{ stock: number; per_user_limit: number; remaining: number } | undefined>('i.stock', 's.per_user_limit', 'i.remaining');
  if (!sale) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');

  const bindings = { saleId, limit: sale.per_user_limit };
  const q = async <T>(sql: string): Promise<T[]> => (await db.raw<{ rows: T[] }>(sql, bindings)).rows;
  const [orders] = await q<{ orders: string; units: string | null }>(
    'SELECT count(*) AS orders, sum(quantity) AS units FROM orders WHERE sale_id = :saleId AND voided_at IS NULL',
  );
  const byStatus = await q<{ status: string; reason: string | null; n: string; units: string }>(
    'SELECT status, reason, count(*) AS n, sum(quantity) AS units FROM purchases WHERE sale_id = :saleId GROUP BY status, reason',
  );
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
  const timeline = await q<{ second: string; confirmed: string; rejected: string }>(
    `SELECT floor(extract(epoch FROM decided_at))::bigint AS second,
            count(*) FILTER (WHERE status <> 'rejected') AS confirmed,
            count(*) FILTER (WHERE status = 'rejected') AS rejected
       FROM purchases WHERE sale_id = :saleId GROUP BY 1 ORDER BY 1`,
  );
  const k = deps.keys.sale(saleId);
  const [redisRemaining, stats] = await Promise.all([deps.redis.get(k.remaining), deps.redis.hgetall(k.stats)]);

  const byReason: Record<string, number> = {};
  let confirmed = 0;
  let rejected = 0;
  let rejectedUnits = 0;
  for (const row of byStatus) {
    if (row.status === 'rejected') {
      rejected += Number(row.n);
      rejectedUnits += Number(row.units);
      byReason[row.reason ?? 'UNKNOWN'] = (byReason[row.reason ?? 'UNKNOWN'] ?? 0) + Number(row.n);
    } else confirmed += Number(row.n);
  }
  return {
    saleId,
    stock: sale.stock,
    perUserLimit: sale.per_user_limit,
    remaining: { redis: redisRemaining === null ? null : Number(redisRemaining), postgres: sale.remaining },
    admitted: { purchases: Number(stats.admitted ?? 0), units: Number(stats.admittedUnits ?? 0) },
    orders: Number(orders?.orders ?? 0),
    unitsOrdered: Number(orders?.units ?? 0),
    purchases: { confirmed, rejected, rejectedUnits, byReason },
    maxUnitsPerUser: Number(perUser?.max_units ?? 0),
    usersOverLimit: Number(perUser?.over ?? 0),
    purchasesWithMultipleOrders: Number(multi?.n ?? 0),
    ordersNotConfirmed: Number(orphans?.n ?? 0),
    decisionLatencyMs: {
      p50: Math.round(Number(latency?.p50 ?? 0)),
      p99: Math.round(Number(latency?.p99 ?? 0)),
      max: Math.round(Number(latency?.max ?? 0)),
    },
    timeline: timeline.map((t) => ({ second: Number(t.second), confirmed: Number(t.confirmed), rejected: Number(t.rejected) })),
  };
}
