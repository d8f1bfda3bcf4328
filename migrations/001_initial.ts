import { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE products (
      id           uuid PRIMARY KEY,
      sku          text NOT NULL UNIQUE,
      name         text NOT NULL,
      description  text,
      price_cents  bigint NOT NULL CHECK (price_cents >= 0),
      currency     char(3) NOT NULL DEFAULT 'USD',
      created_at   timestamptz NOT NULL DEFAULT now(),
      updated_at   timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE sales (
      id              uuid PRIMARY KEY,
      product_id      uuid NOT NULL REFERENCES products(id),
      name            text NOT NULL,
      starts_at       timestamptz NOT NULL,
      ends_at         timestamptz NOT NULL,
      stock           integer NOT NULL CHECK (stock >= 1),
      per_user_limit  integer NOT NULL CHECK (per_user_limit >= 1),
      price_cents     bigint NOT NULL CHECK (price_cents >= 0),
      hold_seconds    integer NOT NULL DEFAULT 600 CHECK (hold_seconds >= 1),
      cancelled_at    timestamptz,
      created_at      timestamptz NOT NULL DEFAULT now(),
      updated_at      timestamptz NOT NULL DEFAULT now(),
      CHECK (ends_at > starts_at),
      CHECK (per_user_limit <= stock)
    );
    CREATE INDEX sales_starts_at_idx ON sales (starts_at DESC);

    -- The authoritative stock: one narrow hot row per sale, guarded last by the CHECK.
    CREATE TABLE sale_inventory (
      sale_id    uuid PRIMARY KEY REFERENCES sales(id) ON DELETE CASCADE,
      stock      integer NOT NULL,
      remaining  integer NOT NULL,
      CHECK (remaining >= 0),
      CHECK (remaining <= stock)
    );

    -- One row per admitted attempt once a worker has decided it (queued ones live in Redis).
    CREATE TABLE purchases (
      id               uuid PRIMARY KEY,
      sale_id          uuid NOT NULL REFERENCES sales(id),
      user_id          text NOT NULL,
      quantity         integer NOT NULL CHECK (quantity >= 1),
      status           text NOT NULL CHECK (status IN ('confirmed', 'rejected', 'paid', 'expired', 'cancelled')),
      reason           text,
      idempotency_key  text,
      admitted_at      timestamptz NOT NULL,
      decided_at       timestamptz NOT NULL DEFAULT now(),
      UNIQUE (sale_id, user_id, idempotency_key)
    );
    CREATE INDEX purchases_sale_user_idx ON purchases (sale_id, user_id);
    CREATE INDEX purchases_user_admitted_idx ON purchases (user_id, admitted_at DESC);

    -- UNIQUE (purchase_id): a redelivered job can never make a second order.
    CREATE TABLE orders (
      id                uuid PRIMARY KEY,
      purchase_id       uuid NOT NULL UNIQUE REFERENCES purchases(id),
      sale_id           uuid NOT NULL REFERENCES sales(id),
      user_id           text NOT NULL,
      quantity          integer NOT NULL CHECK (quantity >= 1),
      unit_price_cents  bigint NOT NULL,
      total_cents       bigint NOT NULL,
      created_at        timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX orders_sale_idx ON orders (sale_id);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TABLE IF EXISTS orders, purchases, sale_inventory, sales, products CASCADE');
}
