import { Request, RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import { Errors } from '../lib/errors';

/**
 * The per-address attempt limiter, counted in this process (express-rate-limit's memory
 * store), not in Redis: it costs Redis nothing per attempt (it was 3 commands and a round
 * trip). Behind the bundled nginx, `hash $remote_addr consistent` sends one address to one
 * API process, so each count is whole; nginx's own `limit_req` bounds an address across
 * every process. (The per-shopper limit is exact across processes: the gate counts it,
 * inside admit-8.) A limit of 0 turns it off: express-rate-limit itself reads 0 as "block all".
 */
export function addressLimiter(perMinute: number): RequestHandler | null {
  if (perMinute === 0) return null;
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: ipKey,
    handler: (req, _res, next) => {
      const resetAt = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime?.getTime() ?? Date.now() + 60_000;
      next(Errors.rateLimited((resetAt - Date.now()) / 1000));
    },
  });
}

export const ipKey = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown');
