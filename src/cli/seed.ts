/** `npm run seed`: the demo product and an active demo sale (idempotent). */
import { seedDemo } from '../../seeds/demo';
import { loadConfig } from '../config/config';
import { exitOnStartupError } from '../lib/shutdown';
import { createDb } from '../lib/db';
import { connectRedis, createApiRedis } from '../lib/redis';
import { createKeys } from '../gate/keys';

async function main(): Promise<void> {
  const config = loadConfig();
  const db = createDb(config.databaseUrl, 2);
  const redis = await connectRedis(createApiRedis(config.redis, 'fs-seed'));
  try {
    const { saleId, created } = await seedDemo({ db, redis, keys: createKeys(config.redisPrefix) });
    console.log(`${created ? 'created' : 'kept'} demo sale ${saleId}`);
  } finally {
    await redis.quit();
    await db.destroy();
  }
}

main().catch(exitOnStartupError);
