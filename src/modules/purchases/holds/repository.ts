import { Knex } from 'knex';
import { Db } from '../../../lib/db';

/** PostgreSQL access for holds and payment. Calls taking `trx` run inside the caller's `underSaleLock`. */

export type HoldRow = { status: string; quantity: number; hold_expires_at: Date | null; due: boolean; order_id: string | null; paid_at: Date | null; hold_ended_at: Date | null };

/** The purchase behind a hold, locked for this transaction (null when it does not exist). */
export async function lockHold(trx: Knex.Transaction, purchaseId: string): Promise<HoldRow | undefined> {
  const { rows } = await trx.raw<{ rows: HoldRow[] }>(
    `SELECT p.status, p.quantity, p.hold_expires_at, p.hold_expires_at <= now() AS due, o.id AS order_id, p.paid_at, p.hold_ended_at
       FROM purchases p LEFT JOIN orders o ON o.purchase_id = p.id
      WHERE p.id = ? FOR UPDATE OF p`,
    [purchaseId],
  );
  return rows[0];
}

/**
 * The hold ended unpaid (expired, or the shopper cancelled it): the purchase says so, its
 * units go back to the stock row, its order is voided. Returns when it ended.
 */
export async function endHold(
  trx: Knex.Transaction,
  hold: { purchaseId: string; saleId: string; quantity: number },
  outcome: { status: 'expired' | 'cancelled'; reason: string },
): Promise<Date> {
  const [row] = await trx('purchases')
    .where({ id: hold.purchaseId })
    .update({ status: outcome.status, reason: outcome.reason, hold_ended_at: trx.fn.now() })
    .returning<{ hold_ended_at: Date }[]>('hold_ended_at');
  await trx('sale_inventory').where({ sale_id: hold.saleId }).increment('remaining', hold.quantity);
  await trx('orders').where({ purchase_id: hold.purchaseId }).update({ voided_at: trx.fn.now() });
  return row!.hold_ended_at;
}

/** Confirmed purchases whose hold is over, oldest first. */
export function dueHolds(db: Db, limit: number) {
  return db('purchases')
    .where({ status: 'confirmed' })
    .where('hold_expires_at', '<=', db.fn.now())
    .orderBy('hold_expires_at')
    .limit(limit)
    .select<{ id: string; sale_id: string; user_id: string; quantity: number; admitted_at: Date }[]>('id', 'sale_id', 'user_id', 'quantity', 'admitted_at');
}

/** When each of these purchases' hold ends. */
export async function holdEnds(db: Db, purchaseIds: string[]): Promise<Map<string, Date | null>> {
  const rows = await db('purchases').whereIn('id', purchaseIds).select<{ id: string; hold_expires_at: Date | null }[]>('id', 'hold_expires_at');
  return new Map(rows.map((r) => [r.id, r.hold_expires_at]));
}

/** What paying a purchase needs to know before calling the provider: its total, whether its hold is open, its status. */
export function paymentFacts(db: Db, purchaseId: string) {
  return db('purchases as p')
    .join('sales as s', 's.id', 'p.sale_id')
    .where('p.id', purchaseId)
    .first<{ total: string; open: boolean; status: string; paid_at: Date | null } | undefined>(
      db.raw('p.quantity * s.price_cents AS total'),
      db.raw('p.hold_expires_at > now() AS open'),
      'p.status',
      'p.paid_at',
    );
}

/** Records an approved payment unless its hold ended meanwhile; returns when it was paid, and whether by this call. */
export async function recordPayment(trx: Knex.Transaction, purchaseId: string): Promise<{ paidAt: Date; now: boolean } | 'too-late'> {
  const { rows } = await trx.raw<{ rows: { status: string; open: boolean; paid_at: Date | null }[] }>(
    'SELECT status, hold_expires_at > now() AS open, paid_at FROM purchases WHERE id = ? FOR UPDATE',
    [purchaseId],
  );
  const current = rows[0];
  if (current?.status === 'paid' && current.paid_at) return { paidAt: current.paid_at, now: false };
  if (current?.status !== 'confirmed' || !current.open) return 'too-late';
  const [row] = await trx('purchases')
    .where({ id: purchaseId })
    .update({ status: 'paid', paid_at: trx.fn.now() })
    .returning<{ paid_at: Date }[]>('paid_at');
  return { paidAt: row!.paid_at, now: true };
}
