import { Redis, RedisOptions } from 'ioredis';

/**
 * How soon a dropped client tries again: every 200 ms at most, so service resumes within
 * a fraction of a second of Redis answering again (ioredis would back off to 2 s).
 */
const reconnectDelay = (attempt: number) => Math.min(attempt * 50, 200);

/**
 * Producer-side client (API): fails fast when Redis is down instead of queueing
 * commands, gives up on a reply after `commandTimeoutMs` (the request then gets 503),
 * and pipelines concurrent commands into one round trip.
 */
export function createApiRedis(url: string, name: string, opts: { commandTimeoutMs?: number } = {}): Redis {
  return new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    ...(opts.commandTimeoutMs ? { commandTimeout: opts.commandTimeoutMs } : {}),
    retryStrategy: reconnectDelay,
    lazyConnect: true,
  } satisfies RedisOptions);
}

/** Worker-side client: waits for Redis to come back rather than failing jobs (BullMQ requirement). */
export function createWorkerRedis(url: string, name: string): Redis {
  return new Redis(url, {
    connectionName: name,
    maxRetriesPerRequest: null,
    enableAutoPipelining: true,
    retryStrategy: reconnectDelay,
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

/** Replies with which Redis says "not now" (memory full, loading, read-only replica, failover...). */
const UNAVAILABLE_REPLIES = /^(OOM|LOADING|READONLY|MISCONF|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|NOTBUSY)\b/;
/** What ioredis says when there is no usable connection or no reply in time. */
const CLIENT_MESSAGES = /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|max retries per request|Connection in subscriber mode/i;

/**
 * True when an error means "Redis cannot take this now" (it is down, full, loading or too
 * slow), as opposed to a bug: the request gets 503 with Retry-After, not 500.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; message?: string };
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (e.name === 'ReplyError' && UNAVAILABLE_REPLIES.test(e.message ?? '')) return true;
  return CLIENT_MESSAGES.test(e.message ?? '');
}

/**
 * One log line when a client loses Redis and one when it is back, instead of ioredis's
 * "Unhandled error event" on stderr at every reconnect attempt (5 a second in an outage).
 */
export function reportConnection<T extends Pick<Redis, 'on'>>(client: T, logger: { warn: (m: string, meta?: object) => unknown; info: (m: string, meta?: object) => unknown }, name: string): T {
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return;
    down = true;
    logger.warn('redis connection lost; retrying', { client: name, err: err.message });
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info('redis connection back', { client: name });
  });
  return client;
}
