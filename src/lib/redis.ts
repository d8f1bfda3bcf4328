import { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { withDeadline } from './deadline';

/** A connection to one Redis server or to a Redis Cluster: every Redis use of the engine takes either. */
export type RedisClient = Redis | Cluster;

/**
 * Where Redis is: one server (`REDIS_URL`), or the seed nodes of a Redis Cluster
 * (`REDIS_CLUSTER_NODES`; credentials and TLS then still come from `REDIS_URL`).
 */
export type RedisTarget = { url: string; clusterNodes?: { host: string; port: number }[] };

/**
 * How soon a dropped client tries again: every 200 ms at most, so service resumes within
 * a fraction of a second of Redis answering again (ioredis would back off to 2 s).
 */
const reconnectDelay = (attempt: number) => Math.min(attempt * 50, 200);

/** Credentials and TLS of `REDIS_URL`, for the nodes of a cluster. */
function credentialsOf(url: string): RedisOptions {
  const u = new URL(url);
  return {
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * One client for the target. On a cluster the per-connection options go to every node
 * and the queueing / retry ones to the cluster itself, so both kinds of client behave the
 * same: the API's fails fast, the worker's waits.
 */
function createClient(target: RedisTarget, node: RedisOptions, cluster: Pick<ClusterOptions, 'enableOfflineQueue' | 'enableAutoPipelining' | 'shardedSubscribers'>): RedisClient {
  if (!target.clusterNodes?.length) {
    const { shardedSubscribers: _cluster, ...single } = cluster;
    return new Redis(target.url, { ...node, ...single, retryStrategy: reconnectDelay, lazyConnect: true });
  }
  return new Cluster(target.clusterNodes, {
    ...cluster,
    lazyConnect: true,
    clusterRetryStrategy: reconnectDelay,
    // Writes and reads go to masters: the gate must read what it just wrote.
    scaleReads: 'master',
    redisOptions: { ...credentialsOf(target.url), ...node },
  });
}

/**
 * Producer-side client (API): fails fast when Redis is down instead of queueing
 * commands, gives up on a reply after `commandTimeoutMs` (the request then gets 503),
 * and pipelines concurrent commands into one round trip (per node on a cluster).
 */
export function createApiRedis(target: RedisTarget, name: string, opts: { commandTimeoutMs?: number } = {}): RedisClient {
  return createClient(
    target,
    { connectionName: name, maxRetriesPerRequest: 1, ...(opts.commandTimeoutMs ? { commandTimeout: opts.commandTimeoutMs } : {}) },
    { enableOfflineQueue: false, enableAutoPipelining: true },
  );
}

/** Worker-side client: waits for Redis to come back rather than failing jobs (BullMQ requirement). */
export function createWorkerRedis(target: RedisTarget, name: string): RedisClient {
  return createClient(target, { connectionName: name, maxRetriesPerRequest: null }, { enableOfflineQueue: true, enableAutoPipelining: true });
}

/**
 * Socket.io's adapter clients: they wait for Redis (a subscription must come back after an
 * outage). On a cluster, sharded subscriptions go to the master of each channel's slot.
 */
export function createSocketRedis(target: RedisTarget, name: string): RedisClient {
  return createClient(target, { connectionName: name }, { enableOfflineQueue: true, enableAutoPipelining: false, shardedSubscribers: true });
}

/** The masters of a cluster (where CONFIG, readiness and durability checks must look), or the one server. */
export function masters(client: RedisClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}

export const isCluster = (client: RedisClient): client is Cluster => client instanceof Cluster;

/** Resolves once the client is ready (connect() on a lazy client). */
export async function connectRedis<T extends RedisClient>(client: T): Promise<T> {
  if (client.status === 'wait') await client.connect();
  else if (client.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve);
      client.once('error', reject);
    });
  }
  return client;
}

/**
 * Resolves once a client can take sharded subscriptions: connected and, on a cluster, with
 * its per-master subscribers up. ioredis runs the commands queued before `ready` at once,
 * and refuses an SSUBSCRIBE that comes before its subscribers ("No sharded subscriber for
 * slot"), so Socket.io's adapter must not subscribe earlier.
 */
export async function connectSubscriber(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (!(isCluster(client) && client.options.shardedSubscribers)) {
    await connectRedis(client);
    return;
  }
  const subscribersReady = new Promise<void>((resolve) => client.once('subscribersReady', () => resolve()));
  await connectRedis(client);
  await withDeadline(subscribersReady, timeoutMs);
}

/** Replies with which Redis says "not now" (memory full, loading, read-only replica, failover...). */
const UNAVAILABLE_REPLIES = /^(OOM|LOADING|READONLY|MISCONF|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|NOTBUSY)\b/;
/** What ioredis says when there is no usable connection or no reply in time. */
const CLIENT_MESSAGES =
  /Connection is closed|Stream isn't writeable|enableOfflineQueue|Command timed out|max retries per request|Connection in subscriber mode|Cluster isn't ready|Failed to refresh slots cache|Too many Cluster redirections|None of startup nodes is available/i;

/**
 * True when an error means "Redis cannot take this now" (it is down, full, loading or too
 * slow), as opposed to a bug: the request gets 503 with Retry-After, not 500.
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; message?: string };
  if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
  if (e.name === 'ReplyError' && UNAVAILABLE_REPLIES.test(e.message ?? '')) return true;
  return CLIENT_MESSAGES.test(e.message ?? '');
}

/**
 * One log line when a client loses Redis and one when it is back, instead of ioredis's
 * "Unhandled error event" on stderr at every reconnect attempt (5 a second in an outage).
 */
export function reportConnection<T extends Pick<RedisClient, 'on'>>(client: T, logger: { warn: (m: string, meta?: object) => unknown; info: (m: string, meta?: object) => unknown }, name: string): T {
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

const probeKeysCache = new WeakMap<RedisClient, { masters: string; keys: string[] }>();

/**
 * Keys under `base`, one in a slot of each master (one key on a single Redis), so a write to
 * each proves every master takes writes (readiness). Found with CLUSTER KEYSLOT and kept
 * until the set of masters changes.
 */
export async function probeKeysPerMaster(client: RedisClient, base: string): Promise<string[]> {
  if (!isCluster(client)) return [base];
  const nodeKey = (n: Redis) => `${n.options.host}:${n.options.port}`;
  const owners = masters(client).map(nodeKey).sort();
  const cached = probeKeysCache.get(client);
  if (cached && cached.masters === owners.join(',')) return cached.keys;
  const found = new Map<string, string>();
  for (let n = 0; n < 1000 && found.size < owners.length; n++) {
    const key = `${base}:{${n}}`;
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
    const owner = client.slots[slot]?.[0];
    if (owner && owners.includes(owner) && !found.has(owner)) found.set(owner, key);
  }
  // A master that owns no slot (being added) has no key: readiness then fails until it has.
  const keys = [...found.values()];
  if (found.size === owners.length) probeKeysCache.set(client, { masters: owners.join(','), keys });
  return found.size === owners.length ? keys : [...keys, `${base}:{unowned-master}`];
}
