import { ServerResponse } from 'node:http';
import { Response } from 'express';

/**
 * The error code a response carried, kept on `res.locals` by the error handler, so that
 * what runs at the response's end (the metrics counters) can label it without parsing the body.
 */
export function rememberErrorCode(res: Response, code: string): void {
  res.locals.errorCode = code;
}

/** Works on the raw response too (Express added `locals` to it). */
export function errorCodeOf(res: ServerResponse): string | undefined {
  const code: unknown = (res as { locals?: { errorCode?: unknown } }).locals?.errorCode;
  return typeof code === 'string' ? code : undefined;
}
