import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures, Stripe's scheme: the header `Flashsale-Signature: t=<unix seconds>,v1=<hex>`
 * where v1 = HMAC-SHA256(secret, `${t}.${body}`). The timestamp is signed so a captured
 * request cannot be replayed later (receivers reject an old `t`, e.g. over 5 minutes).
 */
export const SIGNATURE_HEADER = 'Flashsale-Signature';
export const EVENT_ID_HEADER = 'Flashsale-Event-Id';
export const EVENT_TYPE_HEADER = 'Flashsale-Event-Type';

/** A new endpoint secret, shown once at creation: `whsec_` + 32 random bytes. */
export const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

export function sign(secret: string, body: string, t = Math.floor(Date.now() / 1000)): string {
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${v1}`;
}

/**
 * What a receiver runs (the README shows the same code): true when one v1 matches and
 * `t` is within `toleranceSeconds` of now.
 */
export function verify(secret: string, body: string, header: string, toleranceSeconds = 300, now = Date.now()): boolean {
  const parts = header.split(',').map((p) => p.split('=') as [string, string]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex'));
  return parts.some(([k, v]) => k === 'v1' && v !== undefined && v.length === expected.length && timingSafeEqual(Buffer.from(v), expected));
}
