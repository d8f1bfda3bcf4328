import { createDb, ensureDatabase } from '../src/lib/db';
import { migrateLatest } from '../src/lib/migration-source';
import { TEST_DATABASE_URL } from './env';

/** Creates the test database when missing and migrates it; data is never truncated (each test has its own sale). */
export default async function globalSetup(): Promise<void> {
  await ensureDatabase(TEST_DATABASE_URL);
  const db = createDb(TEST_DATABASE_URL, 2);
  try {
    await migrateLatest(db);
  } finally {
    await db.destroy();
  }
}
