import { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { RedisStore } from 'rate-limit-redis';
import { AppError } from '../lib/errors';
import { isCluster, masters, RedisClient } from '../lib/redis';

/**
 * Purchase-attempt limiter backed by Redis (shared by every API node). A limit of 0
 * turns the limiter off entirely: express-rate-limit itself reads 0 as "block all".
 */
export function attemptLimiter(opts: { redis: RedisClient; prefix: string; perMinute: number; key: (req: Request) => string }): RequestHandler | null {
  if (opts.perMinute === 0) return null;
  return rateLimit({
    windowMs: 60_000,
    limit: opts.perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: opts.key,
    store: storeFor(opts.redis, opts.prefix),
    handler: (req, _res, next) => {
      const resetAt = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime?.getTime() ?? Date.now() + 60_000;
      const retryAfterSeconds = Math.max(1, Math.ceil((resetAt - Date.now()) / 1000));
      next(new AppError('rate_limited', 'RATE_LIMITED', 'Too many purchase attempts; slow down', { retryAfterSeconds }));
    },
    // Never a silent pass: a store error goes to the error handler, so Redis down or slow
    // answers 503 REDIS_UNAVAILABLE (the gate needs Redis anyway: nothing could be admitted),
    // and any other store error is a 500 someone sees, never a limiter quietly switched off.
    passOnStoreError: false,
  });
}

export const ipKey = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown');

/**
 * The limiter's Redis store. On a cluster, each command goes to the node of its key
 * (ioredis routes by the key in EVALSHA's arguments); its two scripts are loaded on every
 * master, since SCRIPT LOAD names no key (a master added later answers NOSCRIPT once and
 * the store loads them again).
 */
function storeFor(redis: RedisClient, prefix: string): RedisStore {
  if (!isCluster(redis)) return new RedisStore({ prefix, sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as never });
  return new RedisStore({
    prefix,
    sendCommandCluster: async ({ command: [name, ...args] }) => {
      if (name!.toUpperCase() !== 'SCRIPT') return redis.call(name!, ...args) as never;
      const replies = await Promise.all(masters(redis).map((node) => node.call(name!, ...args)));
      return replies[0] as never;
    },
  });
}
