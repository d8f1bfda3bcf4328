import { Emitter } from '@socket.io/redis-emitter';
import { Redis } from 'ioredis';
import { PurchaseJob, PurchaseOutcome } from '../modules/purchases/job';
import { rooms, ServerToClientEvents, socketKey } from './events';

/**
 * The worker is not a Socket.IO server: it publishes through Redis and every API node's
 * adapter delivers to the owner's sockets. At-most-once, like all Socket.io delivery.
 */
export function createPurchaseNotifier(redis: Redis, redisPrefix: string) {
  const emitter = new Emitter<ServerToClientEvents>(redis, { key: socketKey(redisPrefix) });
  return (jobs: PurchaseJob[], outcomes: PurchaseOutcome[]): void => {
    const byId = new Map(jobs.map((j) => [j.purchaseId, j]));
    for (const o of outcomes) {
      if (o.status === 'skipped') continue;
      const job = byId.get(o.purchaseId);
      if (!job) continue;
      emitter.to(rooms.user(job.userId)).emit('purchase:update', {
        purchaseId: o.purchaseId,
        saleId: job.saleId,
        status: o.status,
        ...(o.status === 'confirmed' ? { orderId: o.orderId } : { reason: o.reason }),
      });
    }
  };
}
