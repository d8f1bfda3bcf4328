import { NextFunction, Request, Response } from 'express';
import { Errors } from '../../lib/errors';
import { bearerToken, Principal, verificationKey, verifyToken } from './tokens';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** Requires a valid bearer token; sets req.principal. Runs before any body validation. */
export function requireUser(secret: string) {
  const key = verificationKey(secret);
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearerToken(req.headers.authorization);
    const principal = token ? verifyToken(token, key) : null;
    if (!principal) return next(Errors.unauthenticated());
    req.principal = principal;
    next();
  };
}

export function requireAdmin(secret: string) {
  const user = requireUser(secret);
  return (req: Request, res: Response, next: NextFunction) =>
    user(req, res, (err?: unknown) => {
      if (err) return next(err);
      if (req.principal?.role !== 'admin') return next(Errors.forbidden());
      next();
    });
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw Errors.unauthenticated();
  return req.principal;
}
