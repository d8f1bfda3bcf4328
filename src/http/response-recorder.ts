import { appendFileSync } from 'node:fs';
import { Express, NextFunction, Request, Response } from 'express';
import { Config } from '../config/config';

/**
 * Test instrumentation: with NODE_ENV=test and OPENAPI_RECORD_FILE set, every JSON
 * response is appended to that file as one JSON line, so that
 * test/openapi-conformance.test.ts can check each one against the OpenAPI document.
 * Otherwise nothing is installed and nothing costs anything.
 */

export type RecordedResponse = {
  method: string;
  /** The request path, without the query. */
  path: string;
  /** The matched route with its mount path (`/api/sales/:saleId`), or null when none answered. */
  routePath: string | null;
  status: number;
  /** The Retry-After header, if any (documented on 429 and 503). */
  retryAfter: string | null;
  body: unknown;
};

/** Larger bodies are recorded as a note, not parsed. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Installs the recorder when the environment asks for it; one call in createApp. */
export function installResponseRecorder(app: Express, env: Config['env'], file = process.env.OPENAPI_RECORD_FILE): void {
  if (env !== 'test' || !file) return;
  app.use(recordResponses(file));
}

function recordResponses(file: string) {
  return (req: Request, res: Response, next: NextFunction) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let routePath: string | null = null;
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function' || size > MAX_BODY_BYTES) return;
      // Pages and scripts are not recorded: skip holding them once their type is known.
      const type = res.getHeader('content-type');
      if (type !== undefined && !/\bjson\b/.test(String(type))) return;
      const buf =
        typeof chunk === 'string'
          ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
          : Buffer.from(chunk as Uint8Array);
      size += buf.length;
      chunks.push(buf);
    };
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk, rest[0]);
      return write(chunk, ...rest);
    }) as Response['write'];
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      keep(chunk, rest[0]);
      // Here, still inside the handler that answers, req.baseUrl is its router's mount path.
      if (req.route && typeof req.route.path === 'string') routePath = req.baseUrl + req.route.path;
      return end(chunk, ...rest);
    }) as Response['end'];

    res.on('finish', () => {
      if (!/\bjson\b/.test(String(res.getHeader('content-type') ?? ''))) return;
      const path = req.originalUrl.split('?')[0]!;
      let body: unknown;
      try {
        body = size > MAX_BODY_BYTES ? { unrecorded: `body over ${MAX_BODY_BYTES} bytes` } : JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = { unparseable: Buffer.concat(chunks).toString('utf8').slice(0, 500) };
      }
      // A route left with an error keeps req.route while the error handler answers from
      // the app: trust routePath only when it names this path.
      const rec: RecordedResponse = {
        method: req.method,
        path,
        routePath: routePath !== null && matches(routePath, path) ? routePath : null,
        status: res.statusCode,
        retryAfter: res.hasHeader('retry-after') ? String(res.getHeader('retry-after')) : null,
        body,
      };
      try {
        appendFileSync(file, `${JSON.stringify(rec)}\n`);
      } catch {
        /* instrumentation must never fail a request */
      }
    });
    next();
  };
}

function matches(routePath: string, path: string): boolean {
  const re = new RegExp(`^${routePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}/?$`, 'i');
  return re.test(path);
}
