import { Queue } from 'bullmq';
import { RedisClient } from '../../lib/redis';

/**
 * The webhook delivery queue: one job per delivery row (an event for one endpoint). It
 * lives under its own hash tag (keys.webhookBullPrefix), so on a Redis Cluster its keys
 * share one slot and none of them is in a purchase shard's slot.
 */
export const WEBHOOK_QUEUE_NAME = 'webhooks';
export const WEBHOOK_JOB_NAME = 'deliver';
/** The BullMQ backoff type whose strategy (webhookBackoff) the delivery worker registers. */
export const WEBHOOK_BACKOFF_TYPE = 'webhook';

export type WebhookJobData = { deliveryId: string };
export type WebhookQueue = Queue<WebhookJobData>;

/**
 * The queue (producer side): the relay adds to it, and the queue dashboard can show it.
 * @example const queue = createWebhookQueue(redis, keys.webhookBullPrefix);
 */
export function createWebhookQueue(connection: RedisClient, prefix: string): WebhookQueue {
  return new Queue<WebhookJobData>(WEBHOOK_QUEUE_NAME, {
    connection,
    prefix,
    defaultJobOptions: {
      // Delivered: kept a day for the dashboard. Dead: kept a week (the row in PostgreSQL is the dead letter).
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    },
  });
}

/** A delivery's job id: the delivery id, and for its n-th replay `<id>-r<n>` (a dead job keeps its id for a week). */
export const deliveryJobId = (deliveryId: string, replays: number) => (replays === 0 ? deliveryId : `${deliveryId}-r${replays}`);

/**
 * Exponential backoff with jitter: the n-th retry waits between half and all of
 * `baseMs × 2^(n-1)`, capped at `maxMs`. Jitter spreads retries of a burst of events to an
 * endpoint that was down, so they do not all land again in the same second.
 */
export function webhookBackoff(attemptsMade: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
