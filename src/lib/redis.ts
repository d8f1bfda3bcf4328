import { Redis, RedisOptions } from 'ioredis';

/**
 * Producer-side client (API): fails fast when Redis is down instead of queueing
 * commands, and pipelines concurrent commands into one round trip.
 */
export function createApiRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  } satisfies RedisOptions);
}

/** Worker-side client: waits for Redis to come back rather than failing jobs (BullMQ requirement). */
export function createWorkerRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    lazyConnect: true,
  } satisfies RedisOptions);
}

/** Resolves once the client is ready (connect() on a lazy client). */
export async function connectRedis(client: Redis): Promise<Redis> {
  if (client.status === 'wait') await client.connect();
  else if (client.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
  }
  return client;
}
