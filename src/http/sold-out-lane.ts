import { IncomingMessage, ServerResponse } from 'node:http';
import { Logger } from '../lib/logger';
import { SOLD_OUT_MESSAGE } from '../gate/codes';
import { bearerToken, verificationKey, verifyToken } from '../modules/auth/tokens';
import { SoldOutCache } from '../modules/purchases/admission/sold-out-cache';
import { replyLikeExpress } from './lane-reply';

/** The exact body the error handler sends for SOLD_OUT, as one string (one socket write). */
export const SOLD_OUT_JSON = JSON.stringify({ error: { code: 'SOLD_OUT', message: SOLD_OUT_MESSAGE } });
const SOLD_OUT_LENGTH = String(Buffer.byteLength(SOLD_OUT_JSON));

/** `POST /api/sales/:saleId/purchases` (Express matches case-insensitively, with an optional trailing slash). */
const ATTEMPT_PATH = /^\/api\/sales\/([^/?#]+)\/purchases\/?(?:\?|$)/i;

/**
 * The one answer given before Express: `409 SOLD_OUT` to a valid shopper's attempt,
 * without an Idempotency-Key, on a sale this process just learnt is sold out. A
 * stampede on a sold-out sale is the hottest traffic a flash sale sees; Express's
 * routing and middleware stack cost about as much again as the answer itself.
 *
 * The response is byte-for-byte what Express would send (the same helmet headers,
 * X-Request-Id, content type and body; a test compares them). Anything else (no or
 * bad token, a keyed retry, a sale not known sold out) returns false and Express
 * handles the request as usual, its 401 included.
 */
export function soldOutLane(deps: {
  soldOut: Pick<SoldOutCache, 'isSoldOut' | 'countRefusal'>;
  jwtSecret: string;
  headers: [string, string][];
  logger: Logger;
}): (req: IncomingMessage, res: ServerResponse) => boolean {
  const key = verificationKey(deps.jwtSecret);
  return (req, res) => {
    if (req.method !== 'POST' || req.headers['idempotency-key'] !== undefined) return false;
    const path = ATTEMPT_PATH.exec(req.url ?? '');
    if (!path) return false;
    const saleId = path[1]!.toLowerCase();
    if (!deps.soldOut.isSoldOut(saleId)) return false;
    const token = bearerToken(req.headers.authorization);
    if (!token || !verifyToken(token, key)) return false;

    deps.soldOut.countRefusal(saleId);
    replyLikeExpress(req, res, deps, 409, SOLD_OUT_JSON, SOLD_OUT_LENGTH);
    return true;
  };
}
