/**
 * Over-time counts. While hammering the client counts its replies in 10 ms slots; once the run's
 * length is known, one bucket size is chosen for the report (chooseBucketMs), asked of the audit
 * (`?bucketMs=`) for the worker's decisions, and the client's slots are summed into the same buckets.
 */

/** The finest grain the client counts in, and the audit's smallest bucket. */
export const SLOT_MS = 10;

/** Replies to attempts in one slot or bucket: 202s, 409s by code, anything else. */
export type ReplyCounts = { admitted: number; refused: Record<string, number>; other: number };

/** The client's replies per bucket of `bucketMs` (bucket start, epoch ms, aligned as the audit's). */
export type ClientTimeline = { bucketMs: number; points: ({ atMs: number } & ReplyCounts)[] };

/** Bucket sizes the report may use: multiples of SLOT_MS, each at most 2.5x the one before, within the audit's 10..60000. */
export const BUCKET_SIZES_MS = [10, 20, 25, 40, 50, 100, 200, 250, 400, 500, 1000, 2000, 2500, 4000, 5000, 10_000, 15_000, 20_000, 30_000, 60_000];
export const MAX_POINTS = 80;

/**
 * The smallest bucket that draws `spanMs` in at most 80 points: 32-80 points for any span
 * between 0.8 s and 80 min (shorter spans get 10 ms buckets, longer ones 60 s).
 * @example chooseBucketMs(2_500) // 40 (63 points)
 */
export function chooseBucketMs(spanMs: number): number {
  return BUCKET_SIZES_MS.find((b) => spanMs / b <= MAX_POINTS) ?? BUCKET_SIZES_MS[BUCKET_SIZES_MS.length - 1]!;
}

/** Counts one reply at `atMs` into its slot. */
export function countReply(slots: Map<number, ReplyCounts>, atMs: number, reply: { kind: 'admitted' } | { kind: 'refused'; code: string } | { kind: 'other' }): void {
  const slot = Math.floor(atMs / SLOT_MS);
  let c = slots.get(slot);
  if (!c) slots.set(slot, (c = { admitted: 0, refused: {}, other: 0 }));
  if (reply.kind === 'admitted') c.admitted++;
  else if (reply.kind === 'refused') c.refused[reply.code] = (c.refused[reply.code] ?? 0) + 1;
  else c.other++;
}

/** Sums the slots into buckets of `bucketMs` (a multiple of SLOT_MS), in time order; empty buckets are left out, as in the audit. */
export function bucketReplies(slots: Map<number, ReplyCounts>, bucketMs: number): ClientTimeline {
  const buckets = new Map<number, { atMs: number } & ReplyCounts>();
  for (const [slot, c] of slots) {
    const atMs = Math.floor((slot * SLOT_MS) / bucketMs) * bucketMs;
    let b = buckets.get(atMs);
    if (!b) buckets.set(atMs, (b = { atMs, admitted: 0, refused: {}, other: 0 }));
    b.admitted += c.admitted;
    b.other += c.other;
    for (const [code, n] of Object.entries(c.refused)) b.refused[code] = (b.refused[code] ?? 0) + n;
  }
  return { bucketMs, points: [...buckets.values()].sort((a, b) => a.atMs - b.atMs) };
}
