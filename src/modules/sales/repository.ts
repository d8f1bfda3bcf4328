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
  cancelled_at: Date | null;
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
  cancelledAt: r.cancelled_at,
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
  opts: { limit: number; offset: number; timeFilter?: 'upcoming' | 'open' | 'ended' | 'cancelled' },
): Promise<SaleRecord[]> {
  const q = db<Row>('sales').orderBy([{ column: 'starts_at', order: 'desc' }, { column: 'id' }]).limit(opts.limit).offset(opts.offset);
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

export type SaleTotals = { stock: number; remaining: number; sold: number; orders: number; confirmedPurchases: number };

/** PostgreSQL's view of a sale, for stats and audits. */
export async function saleTotals(db: Db, saleId: string): Promise<SaleTotals | undefined> {
  const inv = await db('sale_inventory').where({ sale_id: saleId }).first<{ stock: number; remaining: number } | undefined>();
  if (!inv) return undefined;
  const orders = await db('orders')
    .where({ sale_id: saleId })
    .first<{ orders: string; units: string | null }>(db.raw('count(*) AS orders'), db.raw('sum(quantity) AS units'));
  return {
    stock: inv.stock,
    remaining: inv.remaining,
    sold: Number(orders?.units ?? 0),
    orders: Number(orders?.orders ?? 0),
    confirmedPurchases: Number(orders?.orders ?? 0),
  };
}
