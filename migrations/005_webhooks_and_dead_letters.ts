import { Knex } from 'knex';

/**
 * Webhooks (issue 14): endpoints, the events the engine reports and one delivery row per
 * (event, subscribed endpoint) — the outbox, written in the transaction of the outcome it
 * reports, so a crash between commit and enqueue loses nothing (a relay moves pending
 * rows to the `webhooks` queue). Sales get a low-stock threshold and the marks that make
 * each lifecycle event fire once. `purchase_failures`: purchases recorded
 * PROCESSING_FAILED, with their last error, listed and replayed as dead letters.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE webhook_endpoints (
      id           uuid PRIMARY KEY,
      url          text NOT NULL,
      -- Kept in clear: signing needs it. Answered once, at creation; never listed or logged.
      secret       text NOT NULL,
      event_types  text[] NOT NULL,
      description  text,
      created_at   timestamptz NOT NULL DEFAULT now(),
      deleted_at   timestamptz
    );

    CREATE TABLE webhook_events (
      id          uuid PRIMARY KEY,
      type        text NOT NULL,
      data        jsonb NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now()
    );
    -- The retention sweep deletes old finished events, oldest first.
    CREATE INDEX webhook_events_created_idx ON webhook_events (created_at);

    CREATE TABLE webhook_deliveries (
      id            uuid PRIMARY KEY,
      event_id      uuid NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
      endpoint_id   uuid NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
      status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'relayed', 'delivered', 'dead', 'dropped')),
      attempts      integer NOT NULL DEFAULT 0,
      -- Each replay of a dead delivery is a new queue job: its id is <delivery id>:<replays>.
      replays       integer NOT NULL DEFAULT 0,
      last_error    text,
      created_at    timestamptz NOT NULL DEFAULT now(),
      relayed_at    timestamptz,
      finished_at   timestamptz,
      UNIQUE (event_id, endpoint_id)
    );
    -- The relay's worklist: small, because relayed rows leave it.
    CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at) WHERE status = 'pending';
    CREATE INDEX webhook_deliveries_dead_idx ON webhook_deliveries (finished_at DESC) WHERE status = 'dead';

    ALTER TABLE sales
      ADD COLUMN low_stock_threshold integer CHECK (low_stock_threshold >= 0),
      ADD COLUMN low_stock_notified_at timestamptz,
      ADD COLUMN sold_out_notified_at timestamptz,
      ADD COLUMN started_notified_at timestamptz,
      ADD COLUMN ended_notified_at timestamptz;
    -- Sales already started or ended before webhooks existed are not announced now.
    UPDATE sales SET started_notified_at = now() WHERE starts_at <= now();
    UPDATE sales SET ended_notified_at = now() WHERE ends_at <= now() OR cancelled_at IS NOT NULL;
    -- The lifecycle scheduler's worklists (sales not yet announced started / ended).
    CREATE INDEX sales_start_unannounced_idx ON sales (starts_at) WHERE started_notified_at IS NULL;
    CREATE INDEX sales_end_unannounced_idx ON sales (ends_at) WHERE ended_notified_at IS NULL;

    CREATE TABLE purchase_failures (
      purchase_id         uuid PRIMARY KEY REFERENCES purchases(id),
      sale_id             uuid NOT NULL REFERENCES sales(id),
      user_id             text NOT NULL,
      quantity            integer NOT NULL,
      attempts            integer NOT NULL,
      last_error          text,
      failed_at           timestamptz NOT NULL DEFAULT now(),
      replays             integer NOT NULL DEFAULT 0,
      replay_purchase_id  uuid,
      replayed_at         timestamptz
    );
    CREATE INDEX purchase_failures_failed_idx ON purchase_failures (failed_at DESC);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE IF EXISTS purchase_failures, webhook_deliveries, webhook_events, webhook_endpoints;
    ALTER TABLE sales
      DROP COLUMN IF EXISTS low_stock_threshold, DROP COLUMN IF EXISTS low_stock_notified_at,
      DROP COLUMN IF EXISTS sold_out_notified_at, DROP COLUMN IF EXISTS started_notified_at,
      DROP COLUMN IF EXISTS ended_notified_at;
  `);
}
