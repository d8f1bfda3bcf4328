/** What withDeadline rejects with when the time runs out. */
export class DeadlineExceeded extends Error {
  override name = 'DeadlineExceeded';
}

/**
 * Settles as `work` does, or rejects with DeadlineExceeded after `ms`. `work` keeps running;
 * its late outcome is ignored (its rejection is handled, never "unhandled").
 * @example const reply = await withDeadline(redis.ping(), 1000);
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`timeout after ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
