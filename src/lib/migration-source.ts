import fs from 'node:fs';
import path from 'node:path';
import { Knex } from 'knex';
import { createDb, ensureDatabase } from './db';

/**
 * Loads migrations from `migrations/` as .ts (tsx, jest) or compiled .js, and records
 * them by name without extension, so switching between the two never looks "corrupt".
 */
export function migrationSource(dir = path.join(__dirname, '..', '..', 'migrations')): Knex.MigrationSource<string> {
  return {
    async getMigrations() {
      const names = fs
        .readdirSync(dir)
        .filter((f) => /^\d+_[\w-]+\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
        .map((f) => f.replace(/\.(ts|js)$/, ''));
      return [...new Set(names)].sort();
    },
    getMigrationName: (name) => name,
    async getMigration(name) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      return require(path.join(dir, name)) as Knex.Migration;
    },
  };
}

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource: migrationSource() })) as [number, string[]];
  return applied;
}

/**
 * A database ready for the engine: created when missing, then migrated to the latest
 * schema, on a connection of its own (the migrate CLI, the test setup and the bench).
 */
export async function prepareDatabase(databaseUrl: string): Promise<{ created: boolean; applied: string[] }> {
  const created = await ensureDatabase(databaseUrl);
  const db = createDb(databaseUrl, 1);
  try {
    return { created, applied: await migrateLatest(db) };
  } finally {
    await db.destroy();
  }
}
