import { Knex } from 'knex';
import { Db } from '../../../lib/db';

/** PostgreSQL access for holds and payment. Calls taking `trx` run inside the caller's `underSaleLock`. */

export type HoldRow = { status: string; quantity: number; hold_expires_at: Date | null; due: boolean; order_id: string | null };

/** The purchase behind a hold, locked for this transaction (null when it does not exist). */
export async function lockHold(trx: Knex.Transaction, purchaseId: string): Promise<HoldRow | undefined> {
  const { rows } = await trx.raw<{ rows: HoldRow[] }>(
    `SELECT p.status, p.quantity, p.hold_expires_at, p.hold_expires_at <= now() AS due, o.id AS order_id
       FROM purchases p LEFT JOIN orders o ON o.purchase_id = p.id
      WHERE p.id = ? FOR UPDATE OF p`,
    [purchaseId],
  );
  return rows[0];
}

/** The hold ended unpaid: the purchase is expired, its units go back to the stock row, its order is voided. */
export async function expirePurchase(trx: Knex.Transaction, hold: { purchaseId: string; saleId: string; quantity: number }): Promise<void> {
  await trx('purchases').where({ id: hold.purchaseId }).update({ status: 'expired', reason: 'HOLD_EXPIRED', decided_at: trx.fn.now() });
  await trx('sale_inventory').where({ sale_id: hold.saleId }).increment('remaining', hold.quantity);
  await trx('orders').where({ purchase_id: hold.purchaseId }).update({ voided_at: trx.fn.now() });
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
    .first<{ total: string; open: boolean; status: string } | undefined>(
      db.raw('p.quantity * s.price_cents AS total'),
      db.raw('p.hold_expires_at > now() AS open'),
      'p.status',
    );
}

/** Records an approved payment unless the purchase is paid already or its hold ended meanwhile. */
export async function recordPayment(trx: Knex.Transaction, purchaseId: string): Promise<'paid' | 'too-late'> {
  const { rows } = await trx.raw<{ rows: { status: string; open: boolean }[] }>(
    'SELECT status, hold_expires_at > now() AS open FROM purchases WHERE id = ? FOR UPDATE',
    [purchaseId],
  );
  const current = rows[0];
  if (current?.status === 'paid') return 'paid';
  if (current?.status !== 'confirmed' || !current.open) return 'too-late';
  await trx('purchases').where({ id: purchaseId }).update({ status: 'paid', paid_at: trx.fn.now() });
  return 'paid';
}
