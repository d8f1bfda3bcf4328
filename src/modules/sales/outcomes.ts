import { Knex } from 'knex';
import { Db } from '../../lib/db';

/**
 * What became of a sale's purchases, from PostgreSQL: the one source of the stats and the
 * audit, so the two agree at every moment of a sale's life (through payments, expiries and
 * cancels, not just right after the decisions).
 */
export type SaleOutcomes = {
  stock: number;
  /** PostgreSQL's units left to sell. */
  remaining: number;
  /** Purchases a worker decided (202 -> decision): every confirmed one counts, whatever became of its hold since. */
  decided: { confirmed: number; rejected: number; byReason: Record<string, number> };
  /** What became of the confirmed purchases; the four sum to decided.confirmed. */
  holds: { held: number; paid: number; expired: number; cancelled: number };
  /** sold: paid; held: confirmed, awaiting payment; returned: given back by expired or cancelled holds. sold + held + remaining = stock. */
  units: { sold: number; held: number; returned: number; rejected: number };
  /** Orders standing, from the orders table (an ended hold voids its order): one per held or paid purchase. */
  orders: { count: number; units: number };
};

type Row = { status: string; reason: string | null; n: string; units: string };

/** Folds `count, sum(quantity) GROUP BY status, reason` into outcomes (pure: unit-tested). */
export function foldOutcomes(inv: { stock: number; remaining: number }, rows: Row[], orders: SaleOutcomes['orders']): SaleOutcomes {
  const out: SaleOutcomes = {
    stock: inv.stock,
    remaining: inv.remaining,
    decided: { confirmed: 0, rejected: 0, byReason: {} },
    holds: { held: 0, paid: 0, expired: 0, cancelled: 0 },
    units: { sold: 0, held: 0, returned: 0, rejected: 0 },
    orders,
  };
  for (const row of rows) {
    const n = Number(row.n);
    const units = Number(row.units);
    switch (row.status) {
      case 'rejected': {
        const reason = row.reason ?? 'REJECTED';
        out.decided.rejected += n;
        out.decided.byReason[reason] = (out.decided.byReason[reason] ?? 0) + n;
        out.units.rejected += units;
        continue;
      }
      case 'confirmed':
        out.holds.held += n;
        out.units.held += units;
        break;
      case 'paid':
        out.holds.paid += n;
        out.units.sold += units;
        break;
      case 'expired':
      case 'cancelled':
        out.holds[row.status] += n;
        out.units.returned += units;
        break;
    }
    out.decided.confirmed += n;
  }
  return out;
}

/** One grouped read of the sale's purchases plus its stock row (inside the caller's transaction when given one). */
export async function saleOutcomes(db: Db | Knex.Transaction, saleId: string): Promise<SaleOutcomes | undefined> {
  const inv = await db('sale_inventory').where({ sale_id: saleId }).first<{ stock: number; remaining: number } | undefined>('stock', 'remaining');
  if (!inv) return undefined;
  const rows = await db('purchases')
    .where({ sale_id: saleId })
    .groupBy('status', 'reason')
    .select<Row[]>('status', 'reason', db.raw('count(*) AS n'), db.raw('sum(quantity) AS units'));
  const orders = await db('orders')
    .where({ sale_id: saleId })
    .whereNull('voided_at')
    .first<{ count: string; units: string | null }>(db.raw('count(*) AS count'), db.raw('sum(quantity) AS units'));
  return foldOutcomes(inv, rows, { count: Number(orders?.count ?? 0), units: Number(orders?.units ?? 0) });
}
