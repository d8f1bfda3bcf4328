import { signToken } from '../src/modules/auth/tokens';
import { adminToken, call, shopperToken, Stack, startStack, testConfig } from './helpers';
import { TEST_JWT_SECRET } from './env';

/**
 * Issue 14, item 2: bull-board at /admin/queues, behind admin auth that works from a
 * browser (the admin page trades its bearer token for a short-lived HttpOnly cookie),
 * showing every queue the engine uses, read-only by default.
 */
describe('The queue dashboard', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ QUEUE_SHARDS: '2' }), { worker: false });
  });
  afterAll(async () => stack?.stop());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${stack.api.url}${path}`, { headers, redirect: 'manual' });

  /** Starts a session as `token`; returns the reply and the cookie pair to send back. */
  async function session(token: string) {
    const res = await fetch(`${stack.api.url}/api/admin/session`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    const setCookie = res.headers.get('set-cookie') ?? '';
    return { res, body: (await res.json()) as any, setCookie, cookie: setCookie.split(';')[0]! };
  }

  it('When nobody signed in asks for it, then it is 401 with the JSON error envelope (page and its JSON alike)', async () => {
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues']) {
      const res = await get(path);
      expect([path, res.status]).toEqual([path, 401]);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(((await res.json()) as any).error.code).toBe('UNAUTHENTICATED');
    }
  });

  it('When a shopper asks, or starts a session, then it is 403; a forged cookie is 401', async () => {
    expect((await get('/admin/queues/', { Authorization: `Bearer ${shopperToken('shopper-q')}` })).status).toBe(403);
    expect((await session(shopperToken('shopper-q'))).res.status).toBe(403);
    expect((await get('/admin/queues/', { Cookie: 'fs_queue_dashboard=not.a.token' })).status).toBe(401);
    // An admin bearer token is not a session: the cookie must be one signed for the dashboard.
    expect((await get('/admin/queues/', { Cookie: `fs_queue_dashboard=${adminToken()}` })).status).toBe(401);
    const otherSecret = signToken({ sub: 'x', role: 'admin' }, 'another-secret-0123456789abcdef', 600, 'queue-dashboard');
    expect((await get('/admin/queues/', { Cookie: `fs_queue_dashboard=${otherSecret}` })).status).toBe(401);
  });

  it('When an admin trades the token for a session, then the cookie is HttpOnly, SameSite=Strict, scoped to /admin/queues and short-lived, and the dashboard answers 200', async () => {
    const { res, body, setCookie, cookie } = await session(adminToken());
    expect(res.status).toBe(200);
    expect(body.dashboardUrl).toBe('/admin/queues/');
    const ttl = Date.parse(body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(14 * 60_000);
    expect(ttl).toBeLessThanOrEqual(15 * 60_000);
    expect(setCookie).toMatch(/^fs_queue_dashboard=[\w.-]+;/);
    expect(setCookie).toMatch(/; Max-Age=900;/);
    expect(setCookie).toMatch(/; Path=\/admin\/queues;/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).not.toMatch(/; Secure/); // plain HTTP here; over TLS (req.secure) it is Secure

    const page = await get('/admin/queues/', { Cookie: cookie });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('Flash sale queues');
    // The page's scripts come from the same guarded path.
    const script = /src="(static\/js\/main[^"]+)"/.exec(await (await get('/admin/queues/', { Cookie: cookie })).text())![1]!;
    expect((await get(`/admin/queues/${script}`, { Cookie: cookie })).status).toBe(200);
    expect((await get(`/admin/queues/${script}`)).status).toBe(401);

    // The cookie opens nothing else: the API still wants the bearer token.
    expect((await call(stack.api.url, 'GET', '/api/admin/sales', { headers: { Cookie: cookie } })).status).toBe(401);
    // Scripts and curl may use the bearer token directly.
    expect((await get('/admin/queues/', { Authorization: `Bearer ${adminToken()}` })).status).toBe(200);
  });

  it('When the session is short of the admin token, then it ends with the token', async () => {
    const { body } = await session(signToken({ sub: 'admin-short', role: 'admin' }, TEST_JWT_SECRET, 60));
    // exp + 30 s of leeway, at most: never the full 15 minutes.
    expect(Date.parse(body.expiresAt) - Date.now()).toBeLessThanOrEqual(90_000);
  });

  it('When the queues are listed, then every shard of the purchase and hold queues and the webhook queue are there, read-only', async () => {
    const { cookie } = await session(adminToken());
    const res = await get('/admin/queues/api/queues', { Cookie: cookie });
    expect(res.status).toBe(200);
    const { queues } = (await res.json()) as { queues: { name: string; displayName?: string; readOnlyMode: boolean; allowRetries: boolean }[] };
    expect(queues.map((q) => q.displayName).sort()).toEqual(['holds (shard 0)', 'holds (shard 1)', 'purchases (shard 0)', 'purchases (shard 1)', 'webhooks']);
    expect(queues.every((q) => q.readOnlyMode && !q.allowRetries)).toBe(true);
  });

  it('When a session is asked for with a body, then the body is refused like any strict body', async () => {
    const r = await call(stack.api.url, 'POST', '/api/admin/session', { token: adminToken(), body: { ttl: 99999 } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('VALIDATION_FAILED');
  });
});
