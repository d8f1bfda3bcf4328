import { Response } from 'express';

/**
 * The error code a response carried, kept on `res.locals` by the error handler, so that
 * what runs at the response's end (the metrics counters) can label it without parsing the body.
 */
export function rememberErrorCode(res: Response, code: string): void {
  res.locals.errorCode = code;
}

export function errorCodeOf(res: Response): string | undefined {
  const code: unknown = res.locals.errorCode;
  return typeof code === 'string' ? code : undefined;
}
