import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { Db } from '../../lib/db';
import { WebhookEventType } from './events';

/** PostgreSQL access for webhook endpoints and deliveries. */

export type EndpointRow = { id: string; url: string; secret: string; event_types: WebhookEventType[]; description: string | null; created_at: Date };

/** An endpoint as admins read it: never its secret. */
export type EndpointView = { id: string; url: string; eventTypes: WebhookEventType[]; description?: string; createdAt: string };

export const toEndpointView = (r: EndpointRow): EndpointView => ({
  id: r.id,
  url: r.url,
  eventTypes: r.event_types,
  ...(r.description !== null ? { description: r.description } : {}),
  createdAt: r.created_at.toISOString(),
});

export async function insertEndpoint(db: Db, e: { url: string; secret: string; eventTypes: WebhookEventType[]; description?: string }): Promise<EndpointRow> {
  const [row] = await db('webhook_endpoints')
    .insert({ id: randomUUID(), url: e.url, secret: e.secret, event_types: e.eventTypes, description: e.description ?? null })
    .returning<EndpointRow[]>(['id', 'url', 'secret', 'event_types', 'description', 'created_at']);
  return row!;
}

export function listEndpoints(db: Db, page: { limit: number; offset: number }): Promise<EndpointRow[]> {
  return db('webhook_endpoints')
    .whereNull('deleted_at')
    .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id' }])
    .limit(page.limit)
    .offset(page.offset)
    .select<EndpointRow[]>('id', 'url', 'secret', 'event_types', 'description', 'created_at');
}

/** Soft delete: its deliveries keep their history; pending ones are dropped, not sent. */
export async function deleteEndpoint(db: Db, id: string): Promise<EndpointRow | undefined> {
  const [row] = await db('webhook_endpoints')
    .where({ id })
    .whereNull('deleted_at')
    .update({ deleted_at: db.fn.now() })
    .returning<EndpointRow[]>(['id', 'url', 'secret', 'event_types', 'description', 'created_at']);
  return row;
}

/** Everything one attempt needs: the delivery, its event and its endpoint. */
export type DeliveryToSend = {
  id: string;
  status: string;
  eventId: string;
  type: string;
  data: unknown;
  createdAt: Date;
  url: string;
  secret: string;
  endpointDeleted: boolean;
};

export async function deliveryToSend(db: Db, deliveryId: string): Promise<DeliveryToSend | undefined> {
  const row = await db('webhook_deliveries as d')
    .join('webhook_events as e', 'e.id', 'd.event_id')
    .join('webhook_endpoints as w', 'w.id', 'd.endpoint_id')
    .where('d.id', deliveryId)
    .first<
      { id: string; status: string; event_id: string; type: string; data: unknown; created_at: Date; url: string; secret: string; deleted_at: Date | null } | undefined
    >('d.id', 'd.status', 'e.id as event_id', 'e.type', 'e.data', 'e.created_at', 'w.url', 'w.secret', 'w.deleted_at');
  return (
    row && {
      id: row.id,
      status: row.status,
      eventId: row.event_id,
      type: row.type,
      data: row.data,
      createdAt: row.created_at,
      url: row.url,
      secret: row.secret,
      endpointDeleted: row.deleted_at !== null,
    }
  );
}

/** Records how an attempt ended: delivered, failed (still retrying), dead (no attempts left), dropped (endpoint gone). */
export async function recordAttempt(
  db: Db,
  deliveryId: string,
  outcome: { status: 'delivered' | 'dropped' } | { status: 'retrying' | 'dead'; error: string },
  attempts: number,
): Promise<void> {
  const error = 'error' in outcome ? outcome.error.slice(0, 1000) : null;
  const finished = outcome.status !== 'retrying';
  await db('webhook_deliveries')
    .where({ id: deliveryId })
    .update({
      attempts,
      ...(error !== null ? { last_error: error } : {}),
      ...(finished ? { status: outcome.status, finished_at: db.fn.now() } : {}),
    });
}

/** The relay's worklist, locked for its transaction (SKIP LOCKED: relays in other workers take other rows). */
export function lockPending(trx: Knex.Transaction, limit: number) {
  return trx('webhook_deliveries')
    .where({ status: 'pending' })
    .orderBy('created_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .select<{ id: string; replays: number }[]>('id', 'replays');
}

/**
 * Relayed deliveries not finished for a while, oldest relay first: added again under the
 * same job id (a no-op while BullMQ still has the job), so a job Redis lost is not a lost
 * event. Their relay time moves on, so the next look takes others.
 */
export function staleRelayed(trx: Knex.Transaction, olderThanMs: number, limit: number) {
  return trx('webhook_deliveries')
    .where({ status: 'relayed' })
    .where('relayed_at', '<', trx.raw(`now() - make_interval(secs => ?)`, [olderThanMs / 1000]))
    .orderBy('relayed_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .select<{ id: string; replays: number }[]>('id', 'replays');
}

export async function markRelayed(trx: Knex.Transaction, ids: string[]): Promise<void> {
  await trx('webhook_deliveries').whereRaw('id = ANY(?::uuid[])', [ids]).whereIn('status', ['pending', 'relayed']).update({ status: 'relayed', relayed_at: trx.fn.now() });
}
