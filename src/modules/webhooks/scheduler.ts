import { Db } from '../../lib/db';
import { Logger } from '../../lib/logger';
import { recordEvents } from './outbox';
import { Periodic, runEvery } from '../../lib/periodic';

/**
 * A sale starts and ends by the clock, not by a write: this scheduler records
 * `sale.started` and `sale.ended` once per sale. In one transaction it claims sales whose
 * time has come and that were not announced (the UPDATE ... WHERE notified_at IS NULL is
 * the once: a second worker finds nothing) and writes their outbox rows. Cancelled sales
 * are announced by the cancel (`sale.cancelled`), never as ended.
 */
export async function announceLifecycle(db: Db): Promise<number> {
  return db.transaction(async (trx) => {
    const started = await trx.raw<{ rows: { id: string; name: string; stock: number }[] }>(
      `UPDATE sales SET started_notified_at = now()
        WHERE id IN (SELECT id FROM sales WHERE started_notified_at IS NULL AND starts_at <= now() AND cancelled_at IS NULL
                     ORDER BY starts_at LIMIT 100 FOR UPDATE SKIP LOCKED)
        RETURNING id, name, stock`,
    );
    const ended = await trx.raw<{ rows: { id: string; name: string; stock: number; remaining: number }[] }>(
      `UPDATE sales s SET ended_notified_at = now()
         FROM sale_inventory i
        WHERE i.sale_id = s.id
          AND s.id IN (SELECT id FROM sales WHERE ended_notified_at IS NULL AND ends_at <= now() AND cancelled_at IS NULL
                       ORDER BY ends_at LIMIT 100 FOR UPDATE SKIP LOCKED)
        RETURNING s.id, s.name, s.stock, i.remaining`,
    );
    await recordEvents(trx, [
      ...started.rows.map((s) => ({ type: 'sale.started' as const, data: { saleId: s.id, name: s.name, stock: s.stock } })),
      ...ended.rows.map((s) => ({ type: 'sale.ended' as const, data: { saleId: s.id, name: s.name, stock: s.stock, remaining: s.remaining } })),
    ]);
    return started.rows.length + ended.rows.length;
  });
}

/**
 * Deletes events older than `retentionDays` whose every delivery is finished (delivered or
 * dropped; their deliveries go with them). Dead letters and deliveries still in flight are
 * kept whatever their age. A few thousand at a time, so a backlog never holds a long lock.
 */
export async function pruneEvents(db: Db, retentionDays: number, limit = 5000): Promise<number> {
  const { rowCount } = await db.raw(
    `DELETE FROM webhook_events WHERE id IN (
       SELECT e.id FROM webhook_events e
        WHERE e.created_at < now() - make_interval(days => ?)
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status IN ('pending', 'relayed', 'dead'))
        ORDER BY e.created_at LIMIT ?)`,
    [retentionDays, limit],
  );
  return rowCount ?? 0;
}

const PRUNE_EVERY_MS = 3600_000;

/** Every `everyMs`: sales that started or ended are announced; once an hour old events are pruned. */
export function startLifecycleScheduler(deps: { db: Db; logger: Logger }, everyMs: number, retentionDays: number): Periodic {
  let lastPrune = 0;
  const tick = async () => {
    await announceLifecycle(deps.db);
    if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
      lastPrune = Date.now();
      await pruneEvents(deps.db, retentionDays);
    }
  };
  return runEvery(everyMs, tick, (err) => deps.logger.warn('sale lifecycle announcement or event pruning failed; retrying', { err: err.message }));
}
