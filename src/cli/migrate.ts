/** `npm run migrate`: creates the database when missing, then applies migrations. */
import { loadConfig } from '../config/config';
import { exitOnStartupError } from '../lib/shutdown';
import { createDb, ensureDatabase } from '../lib/db';
import { migrateLatest } from '../lib/migration-source';

async function main(): Promise<void> {
  const config = loadConfig();
  if (await ensureDatabase(config.databaseUrl)) console.log('created database');
  const db = createDb(config.databaseUrl, 2);
  try {
    const applied = await migrateLatest(db);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
  } finally {
    await db.destroy();
  }
}

main().catch(exitOnStartupError);
