import { Knex } from 'knex';
import { scopedIdempotencyKey } from '../../gate/keys';

/** PostgreSQL reads of a reconciliation; they run inside its transaction, under the sale's lock. */

/** Outcomes PostgreSQL holds for these purchases. One array parameter, however many ids (a bind list would stop at 65,535). */
export async function decidedPurchases(trx: Knex.Transaction, ids: string[]): Promise<Map<string, { status: string; reason: string | null }>> {
  if (ids.length === 0) return new Map();
  const { rows } = await trx.raw<{ rows: { id: string; status: string; reason: string | null }[] }>(
    'SELECT id, status, reason FROM purchases WHERE id = ANY(?::uuid[])',
    [ids],
  );
  return new Map(rows.map((r) => [r.id, { status: r.status, reason: r.reason }]));
}

/** PostgreSQL's side of the gate: confirmed units per user, sold units, counters, keyed purchases. */
export async function pgCounts(trx: Knex.Transaction, saleId: string, withKeyed: boolean) {
  const perUser = await trx('purchases')
    .where({ sale_id: saleId })
    .whereIn('status', ['confirmed', 'paid'])
    .groupBy('user_id')
    .select<{ user_id: string; units: string }[]>('user_id', trx.raw('sum(quantity) AS units'));
  const byStatus = await trx('purchases')
    .where({ sale_id: saleId })
    .groupBy('status', 'reason')
    .select<{ status: string; reason: string | null; n: string; units: string }[]>(
      'status',
      'reason',
      trx.raw('count(*) AS n'),
      trx.raw('sum(quantity) AS units'),
    );
  const sold = await trx('orders').where({ sale_id: saleId }).whereNull('voided_at').first<{ units: string | null }>(trx.raw('sum(quantity) AS units'));
  const keyed = withKeyed
    ? await trx('purchases')
        .where({ sale_id: saleId })
        .whereNotNull('idempotency_key')
        .whereIn('status', ['confirmed', 'paid'])
        .select<{ id: string; user_id: string; quantity: number; status: string; idempotency_key: string; admitted_at: Date }[]>(
          'id',
          'user_id',
          'quantity',
          'status',
          'idempotency_key',
          'admitted_at',
        )
    : [];

  const stats = { admitted: 0, admittedUnits: 0, confirmed: 0, rejected: {} as Record<string, number> };
  for (const row of byStatus) {
    const n = Number(row.n);
    // A purchase the API released (ENQUEUE_FAILED) no longer counts as admitted, as in release-6.
    if (row.reason !== 'ENQUEUE_FAILED') {
      stats.admitted += n;
      stats.admittedUnits += Number(row.units);
    }
    if (row.status === 'rejected') {
      const reason = row.reason ?? 'REJECTED';
      stats.rejected[reason] = (stats.rejected[reason] ?? 0) + n;
    } else stats.confirmed += n;
  }
  return {
    users: Object.fromEntries(perUser.map((r) => [r.user_id, String(r.units)])),
    sold: Number(sold?.units ?? 0),
    stats,
    keyed: keyed.map((r) => [
      r.id,
      r.status,
      String(r.quantity),
      String(r.admitted_at.getTime()),
      r.user_id,
      scopedIdempotencyKey(r.user_id, r.idempotency_key),
    ]),
  };
}

/** The sale's stock row, locked for this transaction. */
export function lockedInventory(trx: Knex.Transaction, saleId: string) {
  return trx('sale_inventory').where({ sale_id: saleId }).forUpdate().first<{ stock: number; remaining: number } | undefined>('stock', 'remaining');
}

/** Purchases admitted long ago that never reached the queue, recorded rejected (ENQUEUE_FAILED), 1,000 rows a statement. */
export async function insertOrphansRejected(
  trx: Knex.Transaction,
  saleId: string,
  orphans: { id: string; userId: string; quantity: number; createdAtMs: number }[],
): Promise<void> {
  for (let i = 0; i < orphans.length; i += 1000) {
    await trx('purchases')
      .insert(
        orphans.slice(i, i + 1000).map((o) => ({
          id: o.id,
          sale_id: saleId,
          user_id: o.userId,
          quantity: o.quantity,
          status: 'rejected',
          reason: 'ENQUEUE_FAILED',
          idempotency_key: null,
          admitted_at: new Date(o.createdAtMs),
        })),
      )
      .onConflict('id')
      .ignore();
  }
}
