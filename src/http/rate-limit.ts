import { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { Redis } from 'ioredis';
import { RedisStore } from 'rate-limit-redis';
import { AppError } from '../lib/errors';

/**
 * Purchase-attempt limiter backed by Redis (shared by every API node). A limit of 0
 * turns the limiter off entirely: express-rate-limit itself reads 0 as "block all".
 */
export function attemptLimiter(opts: { redis: Redis; prefix: string; perMinute: number; key: (req: Request) => string }): RequestHandler | null {
  if (opts.perMinute === 0) return null;
  return rateLimit({
    windowMs: 60_000,
    limit: opts.perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: opts.key,
    store: new RedisStore({
      prefix: opts.prefix,
      sendCommand: (command: string, ...args: string[]) => opts.redis.call(command, ...args) as never,
    }),
    handler: (req, _res, next) => {
      const resetAt = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime?.getTime() ?? Date.now() + 60_000;
      const retryAfterSeconds = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
      next(new AppError('rate_limited', 'RATE_LIMITED', 'Too many purchase attempts; slow down', { retryAfterSeconds }));
    },
    // When Redis is down the limiter must not take the API down with it.
    passOnStoreError: true,
  });
}

export const ipKey = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown');
