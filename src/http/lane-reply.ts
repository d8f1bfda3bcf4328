import { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '../lib/logger';
import { requestIdOf } from './middleware';

/**
 * Writes a JSON answer before Express the way Express would (helmet's headers, the request
 * id, JSON content type and length) and logs it as the access log would: the one reply of
 * the lanes that answer hot requests early (sold-out attempts, waiting-room polls).
 */
export function replyLikeExpress(
  req: IncomingMessage,
  res: ServerResponse,
  lane: { headers: [string, string][]; logger: Logger },
  status: number,
  body: string,
  length = String(Buffer.byteLength(body)),
): void {
  const requestId = requestIdOf(req.headers['x-request-id']);
  for (const [name, value] of lane.headers) res.setHeader(name, value);
  res.setHeader('X-Request-Id', requestId);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', length);
  res.statusCode = status;
  res.end(body);
  if (lane.logger.isLevelEnabled('http')) lane.logger.http('request', { method: req.method, path: req.url, status, requestId });
}
