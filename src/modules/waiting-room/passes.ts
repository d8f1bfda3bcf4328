import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../../lib/errors';

/** What a pass says: this shopper, this sale, this place, until then. */
export type PassClaims = { saleId: string; userId: string; placeId: string; expiresAtMs: number };

const VERSION = 'p1';

/**
 * A turn's pass: `p1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "p1." + claims))>`.
 * Stateless to verify (signature, owner, sale, expiry are checked in Node before the gate);
 * single use is the gate's (admit-8 takes the place off the room's live passes). Derived from
 * the claims alone, so every API node mints the same pass for a turn.
 */
export function mintPass(secret: string, c: PassClaims): string {
  const body = Buffer.from(JSON.stringify({ s: c.saleId, u: c.userId, p: c.placeId, x: c.expiresAtMs })).toString('base64url');
  return `${VERSION}.${body}.${sign(secret, `${VERSION}.${body}`)}`;
}

const sign = (secret: string, text: string) => createHmac('sha256', secret).update(text).digest('base64url');

const refuse = (code: string, message: string) => new AppError('forbidden', code, message);

/**
 * Checks a `Sale-Pass` header for this shopper and sale; returns its place id, or throws
 * PASS_INVALID (malformed, forged, another sale's), PASS_NOT_YOURS, PASS_EXPIRED.
 */
export function verifyPass(secret: string, token: string, expect: { saleId: string; userId: string; nowMs: number }): string {
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) throw refuse('PASS_INVALID', 'This Sale-Pass is not a pass this engine issued');
  const given = Buffer.from(parts[2]!, 'base64url');
  const wanted = Buffer.from(sign(secret, `${parts[0]}.${parts[1]}`), 'base64url');
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) throw refuse('PASS_INVALID', 'This Sale-Pass is not a pass this engine issued');
  let claims: { s?: unknown; u?: unknown; p?: unknown; x?: unknown };
  try {
    claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as typeof claims;
  } catch {
    throw refuse('PASS_INVALID', 'This Sale-Pass is not a pass this engine issued');
  }
  if (claims.s !== expect.saleId || typeof claims.p !== 'string' || typeof claims.x !== 'number') throw refuse('PASS_INVALID', 'This Sale-Pass is for another sale');
  if (claims.u !== expect.userId) throw refuse('PASS_NOT_YOURS', 'This Sale-Pass was issued to another shopper');
  if (claims.x <= expect.nowMs) throw refuse('PASS_EXPIRED', 'This pass has expired; your turn has passed');
  return claims.p;
}
