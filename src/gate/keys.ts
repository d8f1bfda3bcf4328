/**
 * Every Redis key the engine uses is built here. A sale's keys share the hash tag
 * `{<saleId>}` so that one Lua script may touch all of them on a Redis Cluster.
 */
export type SaleKeys = Readonly<{
  meta: string;
  remaining: string;
  users: string;
  idempotency: string;
  purchases: string;
  stats: string;
  /** Admitted purchases no queue job is known to hold yet (the orphan sweep's worklist). */
  unqueued: string;
  /** The read model: purchaseId -> the JSON view pollers get once decided (and its owner). */
  views: string;
  /** The waiting room's live passes (placeId -> expiresAtMs): admit-8 takes one off as it is used. */
  linePasses: string;
}>;

/** A sale's waiting room: all in the sale's slot, so its scripts and admit-8 may touch them together. */
export type LineKeys = Readonly<{
  /** Settings, seed, cursor and counters (hash). */
  room: string;
  /** The order of service: placeId -> score (the draw before the start, 2^52 + arrival after it). */
  order: string;
  /** placeId -> "userId|joinedAtMs|seq". */
  places: string;
  /** Same key as SaleKeys.linePasses. */
  passes: string;
}>;

export type Keys = ReturnType<typeof createKeys>;

/** How long a sale's Redis state outlives its end (idempotency keys must last >= 24 h after it). */
export const SALE_KEY_RETENTION_MS = 48 * 3600 * 1000;

export function createKeys(prefix: string) {
  return {
    sale(saleId: string): SaleKeys {
      const base = `${prefix}:sale:{${saleId}}`;
      return {
        meta: `${base}:meta`,
        remaining: `${base}:remaining`,
        users: `${base}:users`,
        idempotency: `${base}:idem`,
        purchases: `${base}:purchases`,
        stats: `${base}:stats`,
        unqueued: `${base}:unqueued`,
        views: `${base}:views`,
        linePasses: `${base}:line:passes`,
      };
    },
    line(saleId: string): LineKeys {
      const base = `${prefix}:sale:{${saleId}}:line`;
      return { room: base, order: `${base}:order`, places: `${base}:places`, passes: `${base}:passes` };
    },
    /** Readiness writes here (and under each queue shard's prefix, in its slot) to prove Redis takes writes. */
    healthProbe: `${prefix}:health:probe`,
    queueHealthProbe: (shard = 0) => `${bullPrefixOf(prefix, shard)}:health:probe`,
    /** Lease that lets one worker per period run the orphan sweep. */
    orphanSweepLease: `${prefix}:orphan-sweep:lease`,
    rateLimit: (kind: 'user' | 'ip') => `${prefix}:rl:${kind}:`,
    /** BullMQ prefix of queue shard 0; braces keep each queue's keys in one cluster slot. */
    bullPrefix: bullPrefixOf(prefix, 0),
    /**
     * BullMQ prefix of a queue shard: each shard its own hash tag, so on a Redis Cluster the
     * shards sit in different slots (and, with enough of them, on every master). Shard 0
     * keeps the unsharded prefix: raising QUEUE_SHARDS leaves the jobs already queued where
     * shard 0's workers still find them.
     */
    bullPrefixOf: (shard: number) => bullPrefixOf(prefix, shard),
    /** BullMQ prefix of the webhook delivery queue: its own hash tag, apart from the purchase shards. */
    webhookBullPrefix: `{${prefix}:webhooks}`,
  };
}

const bullPrefixOf = (prefix: string, shard: number) => (shard === 0 ? `{${prefix}:bull}` : `{${prefix}:bull:${shard}}`);

/**
 * A shopper's fields in a sale's per-shopper hash: units held, the attempt window admit-8
 * counts, and the latest purchase ids (how the owner's list finds one still queued).
 */
export function shopperFields(userId: string) {
  return { units: userId, rate: `r:${userId}`, recent: `p:${userId}` };
}

/**
 * Idempotency keys are scoped to the user (and, by living in the sale's hash, to the sale).
 * The length prefix keeps "a|b" + "c" apart from "a" + "b|c".
 */
export function scopedIdempotencyKey(userId: string, key: string): string {
  return `${userId.length}:${userId}|${key}`;
}
