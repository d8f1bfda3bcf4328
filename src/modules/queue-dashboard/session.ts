import { Request, Response } from 'express';
import { Principal, signToken } from '../auth/tokens';

/**
 * The queue dashboard's browser session. bull-board's page loads its scripts and polls its
 * JSON with plain browser requests, which cannot carry the admin page's bearer token, so
 * the admin page trades its token for a cookie: HttpOnly (page scripts cannot read it),
 * SameSite=Strict (no other site's page can make the browser send it), Path=/admin/queues
 * (sent nowhere else), short-lived, and signed for this use only (its `aud`).
 */
export const DASHBOARD_PATH = '/admin/queues';
export const SESSION_COOKIE = 'fs_queue_dashboard';
export const SESSION_AUDIENCE = 'queue-dashboard';
/** Long enough to look around, short enough that a forgotten tab ends on its own. */
export const SESSION_TTL_SECONDS = 15 * 60;

/** Sets the session cookie for `admin`; never outlives the admin's own token. Returns when it ends. */
export function startDashboardSession(req: Request, res: Response, admin: Principal, secret: string): Date {
  const ttl = Math.max(1, Math.min(SESSION_TTL_SECONDS, Math.floor((admin.validUntilMs - Date.now()) / 1000)));
  const token = signToken({ sub: admin.userId, role: 'admin' }, secret, ttl, SESSION_AUDIENCE);
  res.cookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: 'strict',
    path: DASHBOARD_PATH,
    maxAge: ttl * 1000,
    // Secure when the request came over TLS (nginx terminating it says so, with TRUST_PROXY_HOPS).
    secure: req.secure,
  });
  return new Date(Date.now() + ttl * 1000);
}

/** The value of cookie `name` in a Cookie header, or null. Only our own token-shaped value is taken. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return /^[A-Za-z0-9_.-]+$/.test(value) ? value : null;
    }
  }
  return null;
}
