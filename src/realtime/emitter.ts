import { RedisClient } from '../lib/redis';
import { AdmittedPurchase, outcomeView, PurchaseOutcome } from '../modules/purchases/job';
import { shardOf } from '../modules/purchases/queue';
import { LineTurn, PurchaseUpdate, rooms, socketKey } from './events';

/** Sends one purchase update to its owner's sockets, wherever they are connected. */
export type NotifyOwner = (userId: string, update: PurchaseUpdate) => void;

/** socket.io-adapter's cluster message type for a broadcast, and socket.io-parser's EVENT packet. */
const BROADCAST = 3;
const EVENT = 2;

/**
 * The channel the API nodes' sharded adapter listens on for one room (its "dynamic"
 * subscription mode: a channel per room, so a user's updates reach only the nodes where
 * that user has a socket, and on a Redis Cluster each channel lives on one master).
 */
export const roomChannel = (redisPrefix: string, room: string) => `${socketKey(redisPrefix)}#/#${room}#`;

/**
 * Workers (and API nodes outside a socket's request) are not Socket.IO servers for that
 * socket: they publish the broadcast with SPUBLISH (sharded pub/sub) in the message format
 * of @socket.io/redis-adapter's sharded adapter, which every API node runs, and the nodes
 * holding the owner's sockets deliver it. (@socket.io/redis-emitter speaks only the classic
 * adapter's PUBLISH protocol.) test/realtime.test.ts and test/multi-node.test.ts hold this
 * to the real adapter. At-most-once, like all Socket.io delivery.
 */
export function createOwnerNotifier(redis: RedisClient, redisPrefix: string): NotifyOwner {
  const toUser = createUserEmitter(redis, redisPrefix);
  return (userId, update) => toUser(userId, 'purchase:update', update);
}

/** Events any node may send to one user's sockets, wherever they are connected. */
export type UserEvents = { 'purchase:update': PurchaseUpdate; 'line:turn': LineTurn };

/** One event to one user's sockets (the sharded adapter's broadcast format, as above). */
export function createUserEmitter(redis: RedisClient, redisPrefix: string) {
  return <E extends keyof UserEvents>(userId: string, event: E, payload: UserEvents[E]): void => {
    const room = rooms.user(userId);
    const message = {
      uid: 'engine-notifier',
      nsp: '/',
      type: BROADCAST,
      data: { packet: { type: EVENT, data: [event, payload], nsp: '/' }, opts: { rooms: [room], except: [], flags: {} } },
    };
    // Not awaited: on an API client that fails fast while Redis is down, a lost push is allowed.
    redis.spublish(roomChannel(redisPrefix, room), JSON.stringify(message)).catch(() => 0);
  };
}

/**
 * Channels that carry a worker's decisions to every API node, a whole batch per message:
 * one SPUBLISH per batch instead of one per purchase (a sent command costs Redis ~4 µs
 * besides its execution). Every API node listens on all of them (`listenForOutcomes`) and
 * hands each update to its own sockets in the owner's room. A sale's batches always take
 * the same channel, and the channels spread over a cluster's masters.
 */
export const OUTCOME_CHANNELS = 8;
export const outcomeChannel = (redisPrefix: string, n: number) => `${socketKey(redisPrefix)}:outcomes:${n}`;
const outcomeChannelOf = (redisPrefix: string, saleId: string) => outcomeChannel(redisPrefix, shardOf(saleId, OUTCOME_CHANNELS));

/** A batch's updates on an outcome channel: [userId, update] pairs. */
export type OutcomeMessage = { updates: [string, PurchaseUpdate][] };

/** The worker's hook: a committed batch's outcomes (one sale's) go to their owners, in one message. */
export function createPurchaseNotifier(redis: RedisClient, redisPrefix: string) {
  return (jobs: AdmittedPurchase[], outcomes: PurchaseOutcome[]): void => {
    const byId = new Map(jobs.map((j) => [j.purchaseId, j]));
    const updates: OutcomeMessage['updates'] = [];
    for (const o of outcomes) {
      if (o.status === 'skipped') continue;
      const job = byId.get(o.purchaseId);
      if (job) updates.push([job.userId, outcomeView(job, o)]);
    }
    if (updates.length === 0) return;
    const message: OutcomeMessage = { updates };
    // Not awaited, like every push: at-most-once (clients re-fetch on reconnect).
    redis.spublish(outcomeChannelOf(redisPrefix, jobs[0]!.saleId), JSON.stringify(message)).catch(() => 0);
  };
}
