import { Knex } from 'knex';

/**
 * The waiting room's settings live on the sale (`waiting_room`, null: no room) with the
 * secret seed of its draw (`line_seed`): kept in PostgreSQL so a Redis that lost the room
 * can be given the same seed back, and the hash published when the room opened stays true.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sales ADD COLUMN waiting_room jsonb;
    ALTER TABLE sales ADD COLUMN line_seed text;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE sales DROP COLUMN IF EXISTS line_seed;
    ALTER TABLE sales DROP COLUMN IF EXISTS waiting_room;
  `);
}
