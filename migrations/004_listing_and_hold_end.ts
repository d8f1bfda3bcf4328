import { Knex } from 'knex';

/**
 * - `sales.listed`: an unlisted sale (a load test, a private drop) is left out of the public
 *   list but is reachable by id.
 * - `purchases.hold_ended_at`: when an unpaid hold ended (expired or cancelled). Before this
 *   column the expiry overwrote `decided_at`, so the audit took the expiry for the decision
 *   (a 600 s "decision latency"). Expired rows get their decision time back: the hold was
 *   `hold_seconds` long from the decision (a sale edit since may make this approximate).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sales ADD COLUMN listed boolean NOT NULL DEFAULT true;
    ALTER TABLE purchases ADD COLUMN hold_ended_at timestamptz;
    UPDATE purchases p
       SET hold_ended_at = p.decided_at,
           decided_at = p.hold_expires_at - make_interval(secs => s.hold_seconds)
      FROM sales s
     WHERE s.id = p.sale_id AND p.status = 'expired' AND p.hold_expires_at IS NOT NULL;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE purchases SET decided_at = hold_ended_at WHERE status = 'expired' AND hold_ended_at IS NOT NULL;
    ALTER TABLE purchases DROP COLUMN IF EXISTS hold_ended_at;
    ALTER TABLE sales DROP COLUMN IF EXISTS listed;
  `);
}
