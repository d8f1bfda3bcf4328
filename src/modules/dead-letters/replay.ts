import { Errors } from '../../lib/errors';
import { Db } from '../../lib/db';
import { AdmissionDeps, attemptPurchase } from '../purchases/admission/admission';
import { PurchaseView } from '../purchases/view';
import { findPurchaseFailure, recordPurchaseReplay, requeueDelivery } from './repository';

export type ReplayResult =
  | { id: string; kind: 'webhook'; replayed: boolean; status: string; replays: number }
  | { id: string; kind: 'purchase'; replayed: boolean; replays: number; purchase: PurchaseView };

export type ReplayDeps = AdmissionDeps & { db: Db };

/** The idempotency key a purchase replay is admitted under: the same on every replay of one dead letter. */
export const replayKey = (purchaseId: string) => `replay-${purchaseId}`;

/**
 * Replays a dead letter.
 *
 * A webhook delivery goes back to the outbox with its attempts reset; the relay gives it a
 * new job id and the delivery worker sends the same event (same id: receivers dedupe).
 *
 * A purchase recorded PROCESSING_FAILED is final (an admitted attempt leaves `queued` once
 * and never goes back), so its replay is a new attempt for the same shopper, sale and
 * quantity, through the same path as any attempt — the Redis gate (stock, window, per-user
 * limit), the queue, the worker's transaction — under the idempotency key
 * `replay-<dead letter id>`. Replaying again returns that same purchase (the gate's key);
 * should Redis have forgotten the key, the worker finds it used in PostgreSQL and rejects
 * the second one DUPLICATE_ATTEMPT: never a second order. The gate's refusals (sold out,
 * ended, ...) are the answer.
 */
export async function replayDeadLetter(deps: ReplayDeps, id: string): Promise<ReplayResult> {
  const failure = await findPurchaseFailure(deps.db, id);
  if (failure) {
    const { created, purchase } = await attemptPurchase(deps, {
      saleId: failure.saleId,
      userId: failure.userId,
      quantity: failure.quantity,
      idempotencyKey: replayKey(id),
    });
    const replays = created || failure.replayPurchaseId !== purchase.purchaseId ? await recordPurchaseReplay(deps.db, id, purchase.purchaseId) : failure.replays;
    return { id, kind: 'purchase', replayed: created, replays, purchase };
  }
  const before = await deps.db('webhook_deliveries').where({ id }).first<{ status: string } | undefined>('status');
  if (!before) throw Errors.notFound('DEAD_LETTER_NOT_FOUND', 'Dead letter not found');
  const after = await requeueDelivery(deps.db, id);
  return { id, kind: 'webhook', replayed: before.status === 'dead' && after?.status === 'pending', status: after!.status, replays: after!.replays };
}
