import { randomUUID } from 'node:crypto';
import { Knex } from 'knex';
import { NewEvent } from './events';

/**
 * The outbox. Whoever commits an outcome calls these inside the same transaction, so the
 * event is stored if and only if the outcome is: a crash after the commit leaves
 * `pending` delivery rows that the relay (relay.ts) moves to the queue later.
 *
 * Fan-out happens here: one delivery row per (event, endpoint subscribed to its type), so
 * an endpoint registered after an event does not receive it, and each endpoint's delivery
 * has its own attempts, error and dead letter. An event no endpoint wants is not stored.
 */
export async function recordEvents(trx: Knex.Transaction, events: NewEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  const types = [...new Set(events.map((e) => e.type))];
  const endpoints = await trx('webhook_endpoints')
    .whereNull('deleted_at')
    .whereRaw('event_types && ?::text[]', [types])
    .select<{ id: string; event_types: string[] }[]>('id', 'event_types');
  if (endpoints.length === 0) return 0;

  const eventRows: { id: string; type: string; data: string }[] = [];
  const deliveryRows: { id: string; event_id: string; endpoint_id: string }[] = [];
  for (const event of events) {
    const targets = endpoints.filter((ep) => ep.event_types.includes(event.type));
    if (targets.length === 0) continue;
    const id = randomUUID();
    eventRows.push({ id, type: event.type, data: JSON.stringify(event.data) });
    for (const ep of targets) deliveryRows.push({ id: randomUUID(), event_id: id, endpoint_id: ep.id });
  }
  if (eventRows.length === 0) return 0;
  await trx('webhook_events').insert(eventRows);
  await trx('webhook_deliveries').insert(deliveryRows);
  return eventRows.length;
}

export type StockMarks = { threshold: number | null; lowNotified: boolean; soldOutNotified: boolean };

/** Whether `remaining` would set or clear a stock mark: when false, noteStockLevel would change nothing. */
export const stockMarksChange = (m: StockMarks, remaining: number): boolean =>
  (m.threshold !== null && remaining <= m.threshold) !== m.lowNotified || (remaining === 0) !== m.soldOutNotified;

/**
 * Low stock and sold out fire once per crossing, not once per purchase: the sale row
 * keeps when each was announced, set when PostgreSQL's remaining crosses down (to
 * `low_stock_threshold` or below; to 0) and cleared when it rises back above (a hold
 * ended, more stock). Call it inside the transaction that moved `remaining`, under the
 * sale's lock; the UPDATE only writes when a mark changes (the common case writes nothing).
 */
export async function noteStockLevel(trx: Knex.Transaction, saleId: string): Promise<void> {
  const { rows } = await trx.raw<{ rows: { low: boolean; sold_out: boolean; name: string; stock: number; remaining: number; threshold: number | null }[] }>(
    `WITH cur AS (
       SELECT s.id, i.remaining, s.low_stock_threshold AS threshold,
              s.low_stock_threshold IS NOT NULL AND i.remaining <= s.low_stock_threshold AS is_low,
              i.remaining = 0 AS is_out,
              s.low_stock_notified_at IS NOT NULL AS was_low, s.sold_out_notified_at IS NOT NULL AS was_out
         FROM sales s JOIN sale_inventory i ON i.sale_id = s.id
        WHERE s.id = ?
     )
     UPDATE sales s
        SET low_stock_notified_at = CASE WHEN cur.is_low THEN coalesce(s.low_stock_notified_at, now()) END,
            sold_out_notified_at = CASE WHEN cur.is_out THEN coalesce(s.sold_out_notified_at, now()) END
       FROM cur
      WHERE s.id = cur.id AND (cur.is_low <> cur.was_low OR cur.is_out <> cur.was_out)
  RETURNING cur.is_low AND NOT cur.was_low AS low, cur.is_out AND NOT cur.was_out AS sold_out,
            s.name, s.stock, cur.remaining, cur.threshold`,
    [saleId],
  );
  const r = rows[0];
  if (!r) return;
  const data = { saleId, name: r.name, stock: r.stock, remaining: r.remaining, ...(r.threshold !== null ? { lowStockThreshold: r.threshold } : {}) };
  const events: NewEvent[] = [];
  if (r.low) events.push({ type: 'sale.low_stock', data });
  if (r.sold_out) events.push({ type: 'sale.sold_out', data });
  await recordEvents(trx, events);
}
