import { Knex } from 'knex';
import { Db } from '../../lib/db';

/**
 * Dead letters live where their outcome does: a webhook delivery row in status `dead`,
 * a purchase recorded PROCESSING_FAILED in `purchase_failures`. Both are keyed by a UUID
 * (the delivery's, the purchase's), so one id names one dead letter whatever its kind.
 */
export type DeadLetterKind = 'webhook' | 'purchase';

export type DeadLetter = {
  id: string;
  kind: DeadLetterKind;
  failedAt: string;
  attempts: number;
  lastError: string | null;
  /** How many times it was replayed before. */
  replays: number;
  webhook?: { eventId: string; eventType: string; endpointId: string; url: string };
  purchase?: { saleId: string; userId: string; quantity: number; replayPurchaseId?: string };
};

type Row = {
  id: string;
  kind: DeadLetterKind;
  failed_at: Date;
  attempts: number;
  last_error: string | null;
  replays: number;
  event_id: string | null;
  event_type: string | null;
  endpoint_id: string | null;
  url: string | null;
  sale_id: string | null;
  user_id: string | null;
  quantity: number | null;
  replay_purchase_id: string | null;
};

const toDeadLetter = (r: Row): DeadLetter => ({
  id: r.id,
  kind: r.kind,
  failedAt: r.failed_at.toISOString(),
  attempts: r.attempts,
  lastError: r.last_error,
  replays: r.replays,
  ...(r.kind === 'webhook'
    ? { webhook: { eventId: r.event_id!, eventType: r.event_type!, endpointId: r.endpoint_id!, url: r.url! } }
    : {
        purchase: {
          saleId: r.sale_id!,
          userId: r.user_id!,
          quantity: r.quantity!,
          ...(r.replay_purchase_id ? { replayPurchaseId: r.replay_purchase_id } : {}),
        },
      }),
});

/** Open dead letters: webhook deliveries still dead (to endpoints not removed), purchases not replayed yet. */
const OPEN = `
  SELECT d.id, 'webhook' AS kind, d.finished_at AS failed_at, d.attempts, d.last_error, d.replays,
         e.id AS event_id, e.type AS event_type, w.id AS endpoint_id, w.url,
         NULL::uuid AS sale_id, NULL AS user_id, NULL::integer AS quantity, NULL::uuid AS replay_purchase_id
    FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id JOIN webhook_endpoints w ON w.id = d.endpoint_id
   WHERE d.status = 'dead' AND w.deleted_at IS NULL AND (CAST(:kind AS text) IS NULL OR CAST(:kind AS text) = 'webhook')
  UNION ALL
  SELECT f.purchase_id, 'purchase', f.failed_at, f.attempts, f.last_error, f.replays,
         NULL, NULL, NULL, NULL,
         f.sale_id, f.user_id, f.quantity, f.replay_purchase_id
    FROM purchase_failures f
   WHERE f.replayed_at IS NULL AND (CAST(:kind AS text) IS NULL OR CAST(:kind AS text) = 'purchase')`;

export async function listDeadLetters(db: Db, q: { limit: number; offset: number; kind?: DeadLetterKind }): Promise<{ items: DeadLetter[]; total: number }> {
  const params = { kind: q.kind ?? null, limit: q.limit, offset: q.offset };
  const [page, total] = await Promise.all([db.raw<{ rows: Row[] }>(`${OPEN} ORDER BY failed_at DESC, id LIMIT :limit OFFSET :offset`, params), countDeadLetters(db, q.kind)]);
  return { items: page.rows.map(toDeadLetter), total };
}

/** How many dead letters are open (of one kind, or all): the list's total and the metrics' gauge. */
export async function countDeadLetters(db: Db, kind?: DeadLetterKind): Promise<number> {
  const count = await db.raw<{ rows: { total: string }[] }>(`SELECT count(*) AS total FROM (${OPEN}) open`, { kind: kind ?? null });
  return Number(count.rows[0]!.total);
}

/** A dead webhook delivery goes back to the outbox (a new job id, attempts from zero); false if it is not dead. */
export async function requeueDelivery(db: Db, id: string): Promise<{ status: string; replays: number } | undefined> {
  const [row] = await db('webhook_deliveries')
    .where({ id, status: 'dead' })
    .update({ status: 'pending', replays: db.raw('replays + 1'), attempts: 0, finished_at: null, relayed_at: null })
    .returning<{ status: string; replays: number }[]>(['status', 'replays']);
  if (row) return row;
  return db('webhook_deliveries').where({ id }).first<{ status: string; replays: number } | undefined>('status', 'replays');
}

export type PurchaseFailure = { purchaseId: string; saleId: string; userId: string; quantity: number; replays: number; replayPurchaseId: string | null };

export async function findPurchaseFailure(db: Db | Knex.Transaction, purchaseId: string): Promise<PurchaseFailure | undefined> {
  const r = await db('purchase_failures')
    .where({ purchase_id: purchaseId })
    .first<{ purchase_id: string; sale_id: string; user_id: string; quantity: number; replays: number; replay_purchase_id: string | null } | undefined>();
  return r && { purchaseId: r.purchase_id, saleId: r.sale_id, userId: r.user_id, quantity: r.quantity, replays: r.replays, replayPurchaseId: r.replay_purchase_id };
}

export async function recordPurchaseReplay(db: Db, purchaseId: string, replayPurchaseId: string): Promise<number> {
  const [row] = await db('purchase_failures')
    .where({ purchase_id: purchaseId })
    .update({ replays: db.raw('replays + 1'), replay_purchase_id: replayPurchaseId, replayed_at: db.fn.now() })
    .returning<{ replays: number }[]>('replays');
  return row!.replays;
}
