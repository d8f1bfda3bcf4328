import { RedisClient } from '../lib/redis';
import { Emitter } from '@socket.io/redis-emitter';
import { AdmittedPurchase, outcomeView, PurchaseOutcome } from '../modules/purchases/job';
import { PurchaseUpdate, rooms, ServerToClientEvents, socketKey } from './events';

/** Sends one purchase update to its owner's sockets, wherever they are connected. */
export type NotifyOwner = (userId: string, update: PurchaseUpdate) => void;

/**
 * Workers (and API nodes outside a socket's request) are not Socket.IO servers for that
 * socket: they publish through Redis and every API node's adapter delivers to the owner's
 * room. At-most-once, like all Socket.io delivery.
 */
export function createOwnerNotifier(redis: RedisClient, redisPrefix: string): NotifyOwner {
  // The emitter publishes without awaiting: on an API client that fails fast while Redis
  // is down, an uncaught rejection would end the process. A lost push is allowed (at most once).
  const publisher = { publish: (channel: string, message: string | Buffer) => redis.publish(channel, message).catch(() => 0) };
  const emitter = new Emitter<ServerToClientEvents>(publisher, { key: socketKey(redisPrefix) });
  return (userId, update) => emitter.to(rooms.user(userId)).emit('purchase:update', update);
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
