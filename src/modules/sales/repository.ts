import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { Db } from '../../lib/db';
import { SaleRecord } from './sale';
import { CreateSaleInput } from './validators';

type Row = {
  id: string;
  product_id: string;
  name: string;
  starts_at: Date;
  ends_at: Date;
  stock: number;
  per_user_limit: number;
  price_cents: string;
  hold_seconds: number;
  listed: boolean;
  low_stock_threshold: number | null;
  cancelled_at: Date | null;
  waiting_room?: { enabled?: boolean } | null;
};

const toSale = (r: Row): SaleRecord => ({
  id: r.id,
  productId: r.product_id,
  name: r.name,
  startsAt: r.starts_at,
  endsAt: r.ends_at,
  stock: r.stock,
  perUserLimit: r.per_user_limit,
  priceCents: Number(r.price_cents),
  holdSeconds: r.hold_seconds,
  listed: r.listed,
  lowStockThreshold: r.low_stock_threshold,
  cancelledAt: r.cancelled_at,
  waitingRoom: r.waiting_room?.enabled === true,
});

/** Inserts the sale and its authoritative stock row in one transaction. */
export async function insertSale(db: Db, input: CreateSaleInput): Promise<SaleRecord> {
  return db.transaction(async (trx) => {
    const [row] = await trx<Row>('sales')
      .insert({
        id: randomUUID(),
        product_id: input.productId,
        name: input.name,
        starts_at: input.startsAt,
        ends_at: input.endsAt,
        stock: input.stock,
        per_user_limit: input.perUserLimit,
        price_cents: String(input.priceCents),
        hold_seconds: input.holdSeconds ?? 600,
        listed: input.listed ?? true,
        low_stock_threshold: input.lowStockThreshold ?? null,
      })
      .returning('*');
    const sale = toSale(row as Row);
    await trx('sale_inventory').insert({ sale_id: sale.id, stock: sale.stock, remaining: sale.stock });
    return sale;
  });
}

export async function findSale(db: Db | Knex.Transaction, id: string): Promise<SaleRecord | undefined> {
  const row = await db<Row>('sales').where({ id }).first();
  return row ? toSale(row) : undefined;
}

/**
 * Lists sales newest first. Status is partly derived from the clock, so the
 * time-based part is filtered in SQL and the stock-based part by the caller.
 */
export async function listSales(
  db: Db,
  opts: { limit: number; offset: number; timeFilter?: 'upcoming' | 'open' | 'ended' | 'cancelled'; productId?: string; listedOnly?: boolean },
): Promise<SaleRecord[]> {
  const q = db<Row>('sales').orderBy([{ column: 'starts_at', order: 'desc' }, { column: 'id' }]).limit(opts.limit).offset(opts.offset);
  if (opts.productId !== undefined) q.where({ product_id: opts.productId });
  if (opts.listedOnly) q.where({ listed: true });
  const now = new Date();
  switch (opts.timeFilter) {
    case 'cancelled':
      q.whereNotNull('cancelled_at');
      break;
    case 'upcoming':
      q.whereNull('cancelled_at').where('starts_at', '>', now);
      break;
    case 'open':
      q.whereNull('cancelled_at').where('starts_at', '<=', now).where('ends_at', '>', now);
      break;
    case 'ended':
      q.whereNull('cancelled_at').where('ends_at', '<=', now);
      break;
  }
  return (await q).map(toSale);
}

export type Inventory = { stock: number; remaining: number };

/** The sale and its stock row, read inside the caller's transaction (under the sale's advisory lock). */
export async function findSaleWithInventory(
  trx: Knex.Transaction,
  saleId: string,
): Promise<{ sale: SaleRecord; inventory: Inventory } | undefined> {
  const sale = await findSale(trx, saleId);
  if (!sale) return undefined;
  const inventory = await trx('sale_inventory').where({ sale_id: saleId }).first<Inventory | undefined>('stock', 'remaining');
  if (!inventory) return undefined;
  return { sale, inventory };
}

/**
 * Stores an edited sale; a stock change moves the stock row's stock and remaining by
 * the same delta, so units already sold stay sold. Returns the remaining units after it.
 */
export async function saveSaleChange(trx: Knex.Transaction, next: SaleRecord, stockDelta: number): Promise<number> {
  await trx('sales').where({ id: next.id }).update({
    name: next.name,
    starts_at: next.startsAt,
    ends_at: next.endsAt,
    stock: next.stock,
    per_user_limit: next.perUserLimit,
    price_cents: String(next.priceCents),
    hold_seconds: next.holdSeconds,
    listed: next.listed,
    low_stock_threshold: next.lowStockThreshold,
    updated_at: trx.fn.now(),
  });
  const [row] = await trx('sale_inventory')
    .where({ sale_id: next.id })
    .update({ stock: trx.raw('stock + ?', [stockDelta]), remaining: trx.raw('remaining + ?', [stockDelta]) })
    .returning<{ remaining: number }[]>('remaining');
  return row!.remaining;
}

/** Sets cancelled_at once; a sale already cancelled keeps its first cancellation time. */
export async function markCancelled(trx: Knex.Transaction, saleId: string): Promise<SaleRecord | undefined> {
  await trx('sales').where({ id: saleId }).whereNull('cancelled_at').update({ cancelled_at: trx.fn.now(), updated_at: trx.fn.now() });
  return findSale(trx, saleId);
}

/**
 * Of the given purchase ids (pending in the gate), those PostgreSQL has not decided yet,
 * plus every purchase of the sale already rejected for its cancellation.
 */
export async function purchasesEndedByCancel(db: Db, saleId: string, pendingIds: string[]): Promise<number> {
  const rows = await db('purchases')
    .where({ sale_id: saleId })
    .where((q) => {
      q.where({ reason: 'SALE_CANCELLED' });
      // One array parameter, however many are pending.
      if (pendingIds.length > 0) q.orWhereRaw('id = ANY(?::uuid[])', [pendingIds]);
    })
    .select<{ id: string; reason: string | null }[]>('id', 'reason');
  const decided = new Set(rows.map((r) => r.id));
  return pendingIds.filter((id) => !decided.has(id)).length + rows.filter((r) => r.reason === 'SALE_CANCELLED').length;
}

/** Ids of sales neither cancelled nor ended at `now`. */
export async function openSaleIds(db: Db, now: Date): Promise<string[]> {
  const rows = await db('sales').whereNull('cancelled_at').where('ends_at', '>', now).select<{ id: string }[]>('id');
  return rows.map((r) => r.id);
}

/** Sales that ended after `since` or have not ended (cancelled ones included), with what says whether they are open. */
export async function salesEndingAfter(db: Db, since: Date): Promise<{ id: string; endsAt: Date; cancelled: boolean }[]> {
  const rows = await db('sales').where('ends_at', '>', since).select<{ id: string; ends_at: Date; cancelled_at: Date | null }[]>('id', 'ends_at', 'cancelled_at');
  return rows.map((r) => ({ id: r.id, endsAt: r.ends_at, cancelled: r.cancelled_at !== null }));
}
