import { NextFunction, Request, Response } from 'express';
import { isDatabaseUnavailable, pgCode, PgCodes } from '../lib/db';
import { AppError, Errors, ErrorType } from '../lib/errors';
import { Logger } from '../lib/logger';
import { isRedisUnavailable } from '../lib/redis';
import { rememberErrorCode } from './error-code';

/** The one place domain error types become HTTP statuses. */
const STATUS: Record<ErrorType, number> = {
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  payment_required: 402,
  gateway_timeout: 504,
  unexpected: 500,
};

/**
 * Errors thrown by body-parser / Express itself, a store that cannot answer now, and
 * PostgreSQL codes, translated first.
 */
function translate(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // Infrastructure trouble is an answer too: 503 and when to retry, never a 500.
  if (isRedisUnavailable(err)) return Errors.unavailable('REDIS_UNAVAILABLE', 'The purchase store is unavailable right now; please retry shortly', 1);
  if (isDatabaseUnavailable(err)) return Errors.unavailable('DATABASE_UNAVAILABLE', 'The database is unavailable right now; please retry shortly', 2);
  const e = err as { type?: string; status?: number; code?: string };
  if (e?.type === 'entity.parse.failed') return Errors.validation('Malformed JSON body');
  if (e?.type === 'entity.too.large') return new AppError('payload_too_large', 'PAYLOAD_TOO_LARGE', 'Request body is too large');
  if (e?.type === 'encoding.unsupported' || e?.type === 'charset.unsupported') {
    return new AppError('unsupported_media_type', 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding');
  }
  if (e?.type === 'request.aborted') return Errors.validation('Request aborted');
  switch (pgCode(err)) {
    case PgCodes.invalidTextRepresentation:
      return Errors.validation('Malformed identifier');
    case PgCodes.foreignKeyViolation:
      return Errors.notFound('NOT_FOUND', 'A referenced resource does not exist');
    case PgCodes.uniqueViolation:
      return Errors.conflict('CONFLICT', 'This resource already exists');
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return Errors.validation('Bad request');
  return new AppError('unexpected', 'INTERNAL', 'Something went wrong on our side');
}

export function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appErr = translate(err);
    const status = STATUS[appErr.type];
    if (appErr.type === 'unavailable') {
      // Expected during an outage (no stack: it is not a bug); OVERLOADED is routine back-pressure.
      if (appErr.code !== 'OVERLOADED') logger.warn('request refused: dependency unavailable', { requestId: res.getHeader('X-Request-Id'), method: req.method, path: req.path, code: appErr.code, err: (err as Error)?.message });
    } else if (status >= 500) {
      // Details stay in the logs; the client sees only the envelope.
      logger.error('request failed', { requestId: res.getHeader('X-Request-Id'), method: req.method, path: req.path, err: (err as Error)?.message, stack: (err as Error)?.stack });
    }
    if (appErr.options.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(appErr.options.retryAfterSeconds));
    if (res.headersSent) return;
    rememberErrorCode(res, appErr.code);
    res.status(status).json({
      error: {
        code: appErr.code,
        message: appErr.message,
        ...(appErr.options.details !== undefined ? { details: appErr.options.details } : {}),
      },
    });
  };
}

export function notFoundHandler(_req: Request, _res: Response, next: NextFunction) {
  next(Errors.notFound('ROUTE_NOT_FOUND', 'No such route'));
}
