import { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '../lib/logger';
import { bearerToken, verificationKey, verifyToken } from '../modules/auth/tokens';
import type { LineState } from '../modules/waiting-room/state';
import { replyLikeExpress } from './lane-reply';

/** `GET /api/sales/:saleId/line` (a UUID sale id; Express matches case-insensitively, with an optional trailing slash). */
const LINE_PATH = /^\/api\/sales\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/line\/?(?:\?|$)/i;

/**
 * A shopper's poll of their place, answered before Express: a line of 100,000 shoppers sends
 * thousands of polls a second, and Express's routing and middleware cost more than the
 * answer (bench/line.ts). Only a valid token on a well-formed path is taken here, and only a
 * successful read is answered here — with the headers Express would send (helmet's, request
 * id, JSON): any error (no place, no room, Redis down) hands the request to Express, which
 * answers it as it always does (`fallback`: a GET has no body, so nothing was consumed).
 */
export function lineLane(deps: {
  line: { read(saleId: string, userId: string): Promise<LineState> };
  jwtSecret: string;
  headers: [string, string][];
  logger: Logger;
}): (req: IncomingMessage, res: ServerResponse, fallback: () => void) => boolean {
  const key = verificationKey(deps.jwtSecret);
  return (req, res, fallback) => {
    if (req.method !== 'GET') return false;
    const path = LINE_PATH.exec(req.url ?? '');
    if (!path) return false;
    const token = bearerToken(req.headers.authorization);
    const principal = token ? verifyToken(token, key) : null;
    if (!principal) return false;
    deps.line.read(path[1]!.toLowerCase(), principal.userId).then(
      (state) => replyLikeExpress(req, res, deps, 200, JSON.stringify(state)),
      () => fallback(),
    );
    return true;
  };
}
