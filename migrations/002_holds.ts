import { Knex } from 'knex';

/**
 * Holds: a confirmed purchase keeps its units until `hold_expires_at`; paid -> sold,
 * not paid in time -> expired (units back, order voided).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE purchases ADD COLUMN hold_expires_at timestamptz, ADD COLUMN paid_at timestamptz;
    ALTER TABLE orders ADD COLUMN voided_at timestamptz;
    -- The expiry sweep looks for unpaid holds past their time.
    CREATE INDEX purchases_open_holds_idx ON purchases (hold_expires_at) WHERE status = 'confirmed';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX IF EXISTS purchases_open_holds_idx;
    ALTER TABLE orders DROP COLUMN IF EXISTS voided_at;
    ALTER TABLE purchases DROP COLUMN IF EXISTS hold_expires_at, DROP COLUMN IF EXISTS paid_at;
  `);
}
