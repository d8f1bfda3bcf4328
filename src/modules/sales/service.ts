import { RedisClient } from '../../lib/redis';
import { Db } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { Logger } from '../../lib/logger';
import { Keys } from '../../gate/keys';
import { findProduct } from '../products/repository';
import { JobType } from 'bullmq';
import { gateRemaining, gateStats, loadSaleIntoGate } from '../../gate/sale-gate';
import { gatePending } from '../../gate/sale-gate';
import { findSale, insertSale, listSales } from './repository';
import { saleOutcomes, SaleOutcomes } from './outcomes';
import { SaleView, toSaleView } from './sale';
import { CreateSaleInput, SALE_STATUSES } from './validators';

export type SalesDeps = { db: Db; redis: RedisClient; keys: Keys };

/**
 * Creates the sale in PostgreSQL, then opens its gate in Redis. The sale exists once
 * committed: if Redis cannot take the gate now, the answer is still 201 (an error would
 * invite a duplicate sale), and the first attempt, or a worker's start, rebuilds the
 * gate from PostgreSQL (reconciliation).
 */
export async function createSale(deps: SalesDeps & { logger?: Logger }, input: CreateSaleInput): Promise<SaleView> {
  if (!(await findProduct(deps.db, input.productId))) throw Errors.notFound('PRODUCT_NOT_FOUND', 'Product not found');
  const sale = await insertSale(deps.db, input);
  await loadSaleIntoGate(deps.redis, deps.keys, sale).catch((err: Error) =>
    deps.logger?.warn('sale created; its gate will be built on first use', { saleId: sale.id, err: err.message }),
  );
  return toSaleView(sale, sale.stock, new Date());
}

export async function getSaleView(deps: SalesDeps, saleId: string): Promise<SaleView> {
  const sale = await findSale(deps.db, saleId);
  if (!sale) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
  const remaining = await gateRemaining(deps.redis, deps.keys, [saleId]);
  return toSaleView(sale, remaining.get(saleId) ?? 0, new Date());
}

export async function listSaleViews(
  deps: SalesDeps,
  q: { limit: number; offset: number; status?: (typeof SALE_STATUSES)[number]; productId?: string },
  audience: 'public' | 'admin',
): Promise<SaleView[]> {
  const now = new Date();
  const views = async (page: { limit: number; offset: number }, timeFilter?: 'upcoming' | 'open' | 'ended' | 'cancelled') => {
    const sales = await listSales(deps.db, { ...page, timeFilter, productId: q.productId, listedOnly: audience === 'public' });
    const remaining = await gateRemaining(deps.redis, deps.keys, sales.map((s) => s.id));
    return sales.map((s) => toSaleView(s, remaining.get(s.id) ?? 0, now));
  };
  if (q.status === 'active' || q.status === 'sold_out') {
    // Whether an open sale is active or sold out is only known from the gate: filter, then page.
    const open = await views({ limit: 10_000, offset: 0 }, 'open');
    return open.filter((v) => v.status === q.status).slice(q.offset, q.offset + q.limit);
  }
  return views({ limit: q.limit, offset: q.offset }, q.status === undefined ? undefined : q.status === 'upcoming' ? 'upcoming' : q.status);
}

export type SaleStats = Omit<SaleOutcomes, 'remaining'> & {
  saleId: string;
  remaining: { redis: number | null; postgres: number };
  /** Purchases the gate admitted (Redis; a purchase the API gave back after a failed enqueue is not counted). */
  admitted: number;
  /** Attempts refused with a 409 before any unit was taken (the gate or an API node's sold-out lane), by code (Redis). */
  refused: Record<string, number>;
  queue: { waiting: number; active: number; delayed: number; failed: number };
  /**
   * Redis remaining + units of purchases the gate counts as pending − PostgreSQL remaining:
   * 0 when the gate agrees with PostgreSQL (exact at quiescence; a batch being committed
   * shows for a moment), null when Redis has no record of the sale. Reconcile fixes it.
   */
  drift: number | null;
};

/** What stats need of the purchase queue: the shard that holds a sale's jobs (sales does not depend on the purchases module). */
export type QueueCounter = { forSale(saleId: string): { getJobCounts(...types: JobType[]): Promise<Record<string, number>> } };

/** Live counters: what became of the purchases from PostgreSQL (as the audit reads them), the gate's view from Redis, queue depth from BullMQ. */
export async function saleStats(deps: SalesDeps & { queues: QueueCounter }, saleId: string): Promise<SaleStats> {
  const outcomes = await saleOutcomes(deps.db, saleId);
  if (!outcomes) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
  const [stats, gate, counts] = await Promise.all([
    gateStats(deps.redis, deps.keys, saleId),
    gatePending(deps.redis, deps.keys, saleId),
    deps.queues.forSale(saleId).getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
  ]);
  const refused: Record<string, number> = {};
  for (const [field, value] of Object.entries(stats)) {
    if (field.startsWith('refused:')) refused[field.slice('refused:'.length)] = Number(value);
  }
  const { remaining: pgRemaining, ...rest } = outcomes;
  return {
    ...rest,
    saleId,
    remaining: { redis: gate.remaining, postgres: pgRemaining },
    admitted: Number(stats.admitted ?? 0),
    refused,
    queue: {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
    },
    drift: gate.remaining === null ? null : gate.remaining + gate.pendingUnits - pgRemaining,
  };
}
