import { Knex } from 'knex';
import { underSaleLock } from '../../lib/sale-lock';
import { PurchaseStatus } from './view';
import { recordEvents } from '../webhooks/outbox';
import { purchaseEvents } from './webhook-events';

/** Admitted purchases whose queue job never landed, recorded by admission's compensation and the orphan sweep. */

export type NotQueued = { purchaseId: string; saleId: string; userId: string; quantity: number; createdAt: string; reason: string };

/**
 * Records admitted purchases whose job never landed as rejected, under the sale's lock so
 * a worker writing the same purchase waits; an outcome already there is kept. Returns each
 * purchase's status in PostgreSQL afterwards (`rejected` unless a worker decided it first).
 */
export async function recordNotQueued(db: Knex, saleId: string, items: NotQueued[]): Promise<Map<string, PurchaseStatus>> {
  if (items.length === 0) return new Map();
  return underSaleLock(db, saleId, async (trx) => {
    const inserted = await trx('purchases')
      .insert(
        items.map((p) => ({
          id: p.purchaseId,
          sale_id: p.saleId,
          user_id: p.userId,
          quantity: p.quantity,
          status: 'rejected',
          reason: p.reason,
          idempotency_key: null,
          admitted_at: new Date(p.createdAt),
        })),
      )
      .onConflict('id')
      .ignore()
      .returning<{ id: string }[]>('id');
    // Only those recorded now (a worker's outcome was kept) are announced: purchase.rejected.
    const now = new Set(inserted.map((r) => r.id));
    await recordEvents(
      trx,
      purchaseEvents(items.filter((p) => now.has(p.purchaseId)).map((p) => ({ job: p, outcome: { purchaseId: p.purchaseId, status: 'rejected', reason: p.reason } }))),
    );
    const rows = await trx('purchases')
      .whereIn(
        'id',
        items.map((p) => p.purchaseId),
      )
      .select<{ id: string; status: PurchaseStatus }[]>('id', 'status');
    return new Map(rows.map((r) => [r.id, r.status]));
  });
}
