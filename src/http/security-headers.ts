import { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

/** helmet as configured for every response. */
export function helmetMiddleware(): RequestHandler {
  return helmet({
    // The engine serves plain HTTP on localhost and behind nginx: do not make browsers
    // rewrite its own page's requests to https.
    contentSecurityPolicy: { directives: { 'upgrade-insecure-requests': null } },
  });
}

/**
 * The headers helmet sets, read once by running it against a recording response. With
 * our configuration they are the same on every response (no nonces), so setting them
 * from a list does what helmet's dozen middlewares do, in one step per request.
 */
export function securityHeaderList(middleware: RequestHandler = helmetMiddleware()): [string, string][] {
  const headers = new Map<string, string>();
  const res = {
    setHeader: (name: string, value: string | number | string[]) => void headers.set(name, String(value)),
    removeHeader: (name: string) => void headers.delete(name),
    getHeader: (name: string) => headers.get(name),
  };
  let called = false;
  middleware({ headers: {}, method: 'GET', url: '/' } as never, res as never, () => (called = true));
  if (!called) throw new Error('the header middleware did not call next() synchronously');
  return [...headers];
}

export function securityHeaders(list: [string, string][]): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    for (const [name, value] of list) res.setHeader(name, value);
    next();
  };
}
