/** `npm run migrate`: creates the database when missing, then applies migrations. */
import { loadConfig } from '../config/config';
import { exitOnStartupError } from '../lib/shutdown';
import { prepareDatabase } from '../lib/migration-source';

async function main(): Promise<void> {
  const config = loadConfig();
  const { created, applied } = await prepareDatabase(config.databaseUrl);
  if (created) console.log('created database');
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'already up to date');
}

main().catch(exitOnStartupError);
