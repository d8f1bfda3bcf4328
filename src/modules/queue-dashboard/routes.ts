import { NextFunction, Request, Response, Router } from 'express';
import { z } from 'zod';
import { parse } from '../../http/validate';
import { Errors } from '../../lib/errors';
import { principalOf } from '../auth/middleware';
import { bearerToken, verificationKey, verifyToken } from '../auth/tokens';
import { DASHBOARD_PATH, readCookie, SESSION_AUDIENCE, SESSION_COOKIE, startDashboardSession } from './session';

/**
 * `POST /api/admin/session` (mounted behind requireAdmin): trades the admin's bearer token
 * for the dashboard's cookie. A bearer token in a header, never a cookie, proves who asks,
 * so another site cannot make a browser start a session.
 */
export const sessionBodySchema = z.strictObject({}).optional();
export const sessionResponseSchema = z.strictObject({
  dashboardUrl: z.string().describe('Where the dashboard is'),
  expiresAt: z.iso.datetime().describe('When the session cookie ends (at most 15 minutes, never after the bearer token)'),
});

export function adminSessionRouter(deps: { config: { jwtSecret: string } }): Router {
  const router = Router();
  router.post('/session', (req, res) => {
    parse(sessionBodySchema, req.body);
    const expiresAt = startDashboardSession(req, res, principalOf(req), deps.config.jwtSecret);
    res.json({ dashboardUrl: `${DASHBOARD_PATH}/`, expiresAt: expiresAt.toISOString() });
  });
  return router;
}

/**
 * In front of the dashboard: an admin's bearer token (scripts, curl) or the session cookie
 * (a browser). Otherwise 401 (403 for a valid non-admin token), through the error handler.
 */
export function requireDashboardAdmin(secret: string) {
  const key = verificationKey(secret);
  return (req: Request, _res: Response, next: NextFunction) => {
    const bearer = bearerToken(req.headers.authorization);
    const cookie = bearer ? null : readCookie(req.headers.cookie, SESSION_COOKIE);
    const principal = bearer ? verifyToken(bearer, key) : cookie ? verifyToken(cookie, key, { audience: SESSION_AUDIENCE }) : null;
    if (!principal) return next(Errors.unauthenticated('Open the queue dashboard from the admin page (it starts a session), or send an admin bearer token'));
    if (principal.role !== 'admin') return next(Errors.forbidden());
    next();
  };
}
