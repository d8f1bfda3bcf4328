import { RedisClient } from '../../../lib/redis';
import { Logger } from '../../../lib/logger';
import { Keys } from '../../../gate/keys';

/**
 * Remembers, per process, which sales the gate just reported as sold out (0 left), so
 * a stampede on a sold-out sale costs no Redis round trip. Each entry lives `ttlMs`:
 * units that come back (a rejection, an expiry, more stock) are admitted again at most
 * `ttlMs` later, with no invalidation message to lose.
 *
 * Refusals answered from here are counted in memory and added to the sale's Redis
 * stats every `flushMs`, so stats stay complete.
 */
export class SoldOutCache {
  private readonly until = new Map<string, number>();
  private readonly refusals = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly logger: Logger,
    private readonly ttlMs = 500,
    private readonly flushMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** True when this sale was sold out less than ttlMs ago. */
  isSoldOut(saleId: string, now = Date.now()): boolean {
    const until = this.until.get(saleId);
    if (until === undefined) return false;
    if (until <= now) {
      this.until.delete(saleId);
      return false;
    }
    return true;
  }

  /** An attempt was refused from here: counted in the sale's stats at the next flush. */
  countRefusal(saleId: string): void {
    this.refusals.set(saleId, (this.refusals.get(saleId) ?? 0) + 1);
  }

  /** The sale changed (stock, cancel): ask the gate again on the next attempt. */
  forget(saleId: string): void {
    this.until.delete(saleId);
  }

  markSoldOut(saleId: string, now = Date.now()): void {
    this.until.set(saleId, now + this.ttlMs);
  }

  async flush(): Promise<void> {
    if (this.refusals.size === 0) return;
    const batch = [...this.refusals];
    this.refusals.clear();
    try {
      // A command per sale (each sale has its own cluster slot); auto-pipelined together.
      await Promise.all(batch.map(([saleId, n]) => this.redis.hincrby(this.keys.sale(saleId).stats, 'refused:SOLD_OUT', n)));
    } catch (err) {
      // Put them back: the next flush tries again.
      for (const [saleId, n] of batch) this.refusals.set(saleId, (this.refusals.get(saleId) ?? 0) + n);
      this.logger.warn('could not flush sold-out refusal counts', { err: (err as Error).message });
    }
  }
}
