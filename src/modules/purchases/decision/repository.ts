import { Knex } from 'knex';
import { PurchaseStatus } from '../view';
import { StockMarks } from '../../webhooks/outbox';

/** PostgreSQL access for the worker's write path. All calls run inside the caller's transaction. */

export type SaleForWrite = {
  perUserLimit: number;
  priceCents: number;
  holdSeconds: number;
  cancelled: boolean;
  remaining: number;
  /** The webhook stock marks (see webhooks/outbox.ts noteStockLevel): read here so a batch that crosses nothing costs no extra statement. */
  stockMarks: StockMarks;
};

export async function saleForWrite(trx: Knex.Transaction, saleId: string): Promise<SaleForWrite | undefined> {
  const { rows } = await trx.raw<{
    rows: {
      per_user_limit: number;
      price_cents: string;
      hold_seconds: number;
      cancelled_at: Date | null;
      remaining: number;
      low_stock_threshold: number | null;
      low_notified: boolean;
      sold_out_notified: boolean;
    }[];
  }>(
    `SELECT s.per_user_limit, s.price_cents, s.hold_seconds, s.cancelled_at, i.remaining, s.low_stock_threshold,
            s.low_stock_notified_at IS NOT NULL AS low_notified, s.sold_out_notified_at IS NOT NULL AS sold_out_notified
       FROM sales s JOIN sale_inventory i ON i.sale_id = s.id
      WHERE s.id = ? FOR UPDATE OF i`,
    [saleId],
  );
  const r = rows[0];
  return (
    r && {
      perUserLimit: r.per_user_limit,
      priceCents: Number(r.price_cents),
      holdSeconds: r.hold_seconds,
      cancelled: r.cancelled_at !== null,
      remaining: r.remaining,
      stockMarks: { threshold: r.low_stock_threshold, lowNotified: r.low_notified, soldOutNotified: r.sold_out_notified },
    }
  );
}

export type ExistingPurchase = { id: string; status: PurchaseStatus; reason: string | null; orderId: string | null; holdExpiresAt: Date | null };

export async function existingPurchases(trx: Knex.Transaction | Knex, ids: string[]): Promise<Map<string, ExistingPurchase>> {
  if (ids.length === 0) return new Map();
  const rows = await trx('purchases as p')
    .leftJoin('orders as o', 'o.purchase_id', 'p.id')
    .whereIn('p.id', ids)
    .select<{ id: string; status: PurchaseStatus; reason: string | null; order_id: string | null; hold_expires_at: Date | null }[]>(
      'p.id',
      'p.status',
      'p.reason',
      'o.id as order_id',
      'p.hold_expires_at',
    );
  return new Map(rows.map((r) => [r.id, { id: r.id, status: r.status, reason: r.reason, orderId: r.order_id, holdExpiresAt: r.hold_expires_at }]));
}

/** Units each user already holds in this sale (confirmed or paid). */
export async function userTotals(trx: Knex.Transaction, saleId: string, userIds: string[]): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map();
  const rows = await trx('purchases')
    .where({ sale_id: saleId })
    .whereIn('user_id', userIds)
    .whereIn('status', ['confirmed', 'paid'])
    .groupBy('user_id')
    .select<{ user_id: string; units: string }[]>('user_id', trx.raw('sum(quantity) AS units'));
  return new Map(rows.map((r) => [r.user_id, Number(r.units)]));
}

/** Idempotency keys already used by a confirmed purchase (guards a key Redis forgot). */
export async function usedIdempotencyKeys(trx: Knex.Transaction, saleId: string, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await trx('purchases')
    .where({ sale_id: saleId })
    .whereIn('idempotency_key', keys)
    .select<{ user_id: string; idempotency_key: string }[]>('user_id', 'idempotency_key');
  return new Set(rows.map((r) => `${r.user_id}\u0000${r.idempotency_key}`));
}

export type PurchaseInsert = {
  id: string;
  sale_id: string;
  user_id: string;
  quantity: number;
  status: 'confirmed' | 'rejected';
  reason: string | null;
  idempotency_key: string | null;
  admitted_at: Date;
  hold_expires_at?: Date;
};

export type OrderInsert = {
  id: string;
  purchase_id: string;
  sale_id: string;
  user_id: string;
  quantity: number;
  unit_price_cents: number;
  total_cents: number;
};

export async function insertDecisions(trx: Knex.Transaction, purchases: PurchaseInsert[], orders: OrderInsert[]): Promise<void> {
  if (purchases.length) await trx('purchases').insert(purchases);
  if (orders.length) await trx('orders').insert(orders);
}

export async function takeStock(trx: Knex.Transaction, saleId: string, units: number): Promise<void> {
  if (units > 0) await trx('sale_inventory').where({ sale_id: saleId }).decrement('remaining', units);
}

/** Records a purchase as rejected with this reason; an outcome already there is kept. */
export async function insertRejected(
  trx: Knex.Transaction,
  p: { purchaseId: string; saleId: string; userId: string; quantity: number; admittedAt: number },
  reason: string,
): Promise<void> {
  await trx('purchases')
    .insert({
      id: p.purchaseId,
      sale_id: p.saleId,
      user_id: p.userId,
      quantity: p.quantity,
      status: 'rejected',
      reason,
      idempotency_key: null,
      admitted_at: new Date(p.admittedAt),
    })
    .onConflict('id')
    .ignore();
}

/** A purchase whose job ran out of attempts: kept as a dead letter with its last error (replayable, see dead-letters). */
export async function recordPurchaseFailure(
  trx: Knex.Transaction,
  p: { purchaseId: string; saleId: string; userId: string; quantity: number },
  failure: { error: string; attempts: number },
): Promise<void> {
  await trx('purchase_failures')
    .insert({
      purchase_id: p.purchaseId,
      sale_id: p.saleId,
      user_id: p.userId,
      quantity: p.quantity,
      attempts: failure.attempts,
      last_error: failure.error.slice(0, 1000),
    })
    .onConflict('purchase_id')
    .ignore();
}
