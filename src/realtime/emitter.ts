import { RedisClient } from '../lib/redis';
import { AdmittedPurchase, outcomeView, PurchaseOutcome } from '../modules/purchases/job';
import { PurchaseUpdate, rooms, socketKey } from './events';

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
  return (userId, update) => {
    const room = rooms.user(userId);
    const message = {
      uid: 'engine-notifier',
      nsp: '/',
      type: BROADCAST,
      data: { packet: { type: EVENT, data: ['purchase:update', update], nsp: '/' }, opts: { rooms: [room], except: [], flags: {} } },
    };
    // Not awaited: on an API client that fails fast while Redis is down, a lost push is allowed.
    redis.spublish(roomChannel(redisPrefix, room), JSON.stringify(message)).catch(() => 0);
  };
}

/** The worker's hook: every committed outcome of a batch goes to its owner. */
export function createPurchaseNotifier(notify: NotifyOwner) {
  return (jobs: AdmittedPurchase[], outcomes: PurchaseOutcome[]): void => {
    const byId = new Map(jobs.map((j) => [j.purchaseId, j]));
    for (const o of outcomes) {
      if (o.status === 'skipped') continue;
      const job = byId.get(o.purchaseId);
      if (!job) continue;
      notify(job.userId, outcomeView(job, o));
    }
  };
}
