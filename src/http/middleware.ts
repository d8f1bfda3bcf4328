import { randomUUID } from 'node:crypto';
import express, { NextFunction, Request, Response } from 'express';
import { AppError } from '../lib/errors';
import { Logger } from '../lib/logger';

/** A sane inbound X-Request-Id, or a fresh one. */
export function requestIdOf(inbound: string | string[] | undefined): string {
  return typeof inbound === 'string' && /^[\w.-]{1,64}$/.test(inbound) ? inbound : randomUUID();
}

/**
 * Accepts a sane inbound X-Request-Id or makes one, and answers with it; the access log
 * and the error handler's log lines carry it. (Not an AsyncLocalStorage: once one is in
 * use, every promise in the process pays a hook, ~80-100 ns per await on this machine,
 * and an attempt awaits on the order of a hundred.)
 */
export function requestId(logger: Logger) {
  return (req: Request, res: Response, next: NextFunction) => {
    const id = requestIdOf(req.headers['x-request-id']);
    res.setHeader('X-Request-Id', id);
    // Access logs cost a log record per request: only when LOG_LEVEL asks for them.
    if (logger.isLevelEnabled('http')) {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        logger.http('request', {
          requestId: id,
          method: req.method,
          path: req.path,
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        });
      });
    }
    next();
  };
}

/**
 * Strict JSON body parsing, mounted after auth on the routes that take a body.
 * A body that is not JSON gets 415; an empty body is left for the schema to judge.
 */
export function jsonBody(limitBytes: number) {
  const parser = express.json({ limit: limitBytes, strict: true, type: () => true });
  return (req: Request, res: Response, next: NextFunction) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (!hasBody) return next();
    if (!req.is('application/json')) {
      return next(new AppError('unsupported_media_type', 'UNSUPPORTED_MEDIA_TYPE', 'Send the body as application/json'));
    }
    parser(req, res, next);
  };
}
