import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { TEST_JWT_SECRET } from './env';
import { adminToken, call, createSale, Reply, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/**
 * The HTTP contract at its edges: the sale window, auth, strict bodies, admin
 * validation, reads, rate limits and health. Every error is checked for its status,
 * its envelope code, and for never leaking a stack trace.
 */

/** Nothing that looks like a stack trace or a source path may reach a client. */
function expectNoStack(r: Reply): void {
  const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body ?? '');
  expect(text).not.toMatch(/stack|node_modules|\.[jt]s:\d+|\n\s+at\s/i);
}

/** Status and envelope code together, so a failure shows both (and the message). */
function expectError(r: Reply, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(Object.keys(r.body)).toEqual(['error']);
  expect(typeof r.body.error.message).toBe('string');
  expect(r.headers.get('content-type') ?? '').toMatch(/^application\/json/);
  expectNoStack(r);
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowSec = () => Math.floor(Date.now() / 1000);
const uniq = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;

describe('When the API runs with its default test configuration', () => {
  let stack: Stack;
  let base: string;
  const attempt = (saleId: string, opts: Parameters<typeof call>[3] = {}) => call(base, 'POST', `/api/sales/${saleId}/purchases`, opts);

  beforeAll(async () => {
    stack = await startStack(testConfig());
    base = stack.api.url;
  });
  afterAll(async () => stack?.stop());

  /** Asserts the gate and PostgreSQL both show that a sale has given nothing away. */
  async function expectNothingTaken(saleId: string, stock: number): Promise<void> {
    const { redis, keys, db } = stack.api.deps;
    expect(Number(await redis.get(keys.sale(saleId).remaining))).toBe(stock);
    expect(await redis.hget(keys.sale(saleId).stats, 'admitted')).toBeNull();
    expect(await db('purchases').where({ sale_id: saleId })).toHaveLength(0);
  }

  describe('the sale window and sale ids', () => {
    it('When a shopper tries a sale that starts in an hour, then it is 409 SALE_NOT_STARTED and nothing is taken', async () => {
      const now = Date.now();
      const { saleId } = await createSale(base, {
        stock: 5,
        startsAt: new Date(now + 3600_000).toISOString(),
        endsAt: new Date(now + 7200_000).toISOString(),
      });
      const r = await attempt(saleId, { token: shopperToken(uniq('early')), body: { quantity: 1 } });
      expectError(r, 409, 'SALE_NOT_STARTED');
      await expectNothingTaken(saleId, 5);
      const view = await call(base, 'GET', `/api/sales/${saleId}`);
      expect(view.status).toBe(200);
      expect(view.body.status).toBe('upcoming');
    });

    it('When a sale reaches its end, then the next attempt is 409 SALE_ENDED and the sale reads as ended', async () => {
      const { saleId } = await createSale(base, { stock: 5, perUserLimit: 1, endsAt: new Date(Date.now() + 1500).toISOString() });
      const token = shopperToken(uniq('late'));
      const seenBeforeEnd: string[] = [];
      const ended = await waitFor(
        async () => {
          const r = await attempt(saleId, { token, body: { quantity: 1 } });
          if (r.body?.error?.code === 'SALE_ENDED') return r;
          // Before the end: the first attempt is admitted, the next ones hit the limit of 1.
          seenBeforeEnd.push(`${r.status} ${r.body?.error?.code ?? r.body?.status}`);
          return undefined;
        },
        'an attempt to answer SALE_ENDED',
        10_000,
        100,
      );
      expectError(ended, 409, 'SALE_ENDED');
      expect(seenBeforeEnd.every((s) => s === '202 queued' || s === '409 LIMIT_EXCEEDED')).toBe(true);
      const view = await call(base, 'GET', `/api/sales/${saleId}`);
      expect(view.status).toBe(200);
      expect(view.body.status).toBe('ended');
    });

    it('When a shopper tries a sale id nobody created, then it is 404 SALE_NOT_FOUND', async () => {
      const r = await attempt(randomUUID(), { token: shopperToken(uniq('lost')), body: { quantity: 1 } });
      expectError(r, 404, 'SALE_NOT_FOUND');
      expectError(await call(base, 'GET', `/api/sales/${randomUUID()}`), 404, 'SALE_NOT_FOUND');
    });

    it('When a sale id is malformed, then attempting and reading it are 404 SALE_NOT_FOUND, never 500', async () => {
      const token = shopperToken(uniq('typo'));
      expectError(await attempt('abc', { token, body: { quantity: 1 } }), 404, 'SALE_NOT_FOUND');
      expectError(await attempt('abc', { token }), 404, 'SALE_NOT_FOUND');
      expectError(await call(base, 'GET', '/api/sales/abc'), 404, 'SALE_NOT_FOUND');
      expectError(await call(base, 'GET', `/api/sales/${randomUUID()}x`), 404, 'SALE_NOT_FOUND');
      expectError(await call(base, 'GET', '/api/admin/sales/abc/stats', { token: adminToken() }), 404, 'SALE_NOT_FOUND');
    });
  });

  describe('authentication and authorization', () => {
    let saleId: string;
    beforeAll(async () => {
      ({ saleId } = await createSale(base, { stock: 10, perUserLimit: 2 }));
    });

    it('When an attempt carries no token or a malformed Authorization header, then it is 401 UNAUTHENTICATED', async () => {
      expectError(await attempt(saleId, { body: { quantity: 1 } }), 401, 'UNAUTHENTICATED');
      expectError(await attempt(saleId, { body: { quantity: 1 }, headers: { authorization: 'Bearer' } }), 401, 'UNAUTHENTICATED');
      expectError(await attempt(saleId, { body: { quantity: 1 }, headers: { authorization: 'Basic YWxpY2U6cHc=' } }), 401, 'UNAUTHENTICATED');
      expectError(await attempt(saleId, { body: { quantity: 1 }, headers: { authorization: 'Bearer not-a-jwt' } }), 401, 'UNAUTHENTICATED');
    });

    it('When a token is signed with another secret, then it is 401 UNAUTHENTICATED', async () => {
      const forged = jwt.sign({ sub: 'mallory', role: 'admin' }, 'some-other-secret-0123456789', { algorithm: 'HS256', expiresIn: 3600 });
      expectError(await attempt(saleId, { token: forged, body: { quantity: 1 } }), 401, 'UNAUTHENTICATED');
      expectError(await call(base, 'POST', '/api/admin/products', { token: forged, body: { sku: uniq('F'), name: 'x', priceCents: 1 } }), 401, 'UNAUTHENTICATED');
    });

    it('When a token expired more than 30 s ago, then it is 401 UNAUTHENTICATED', async () => {
      const expired = jwt.sign({ sub: uniq('old'), exp: nowSec() - 120 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
      expectError(await attempt(saleId, { token: expired, body: { quantity: 1 } }), 401, 'UNAUTHENTICATED');
      expectError(await call(base, 'GET', '/api/me/purchases', { token: expired }), 401, 'UNAUTHENTICATED');
    });

    it('When a token expired less than 30 s ago, then the clock leeway still admits it', async () => {
      const justExpired = jwt.sign({ sub: uniq('lenient'), exp: nowSec() - 5 }, TEST_JWT_SECRET, { algorithm: 'HS256' });
      const r = await call(base, 'GET', '/api/me/purchases', { token: justExpired });
      expect(r.status).toBe(200);
    });

    it('When a token lacks exp, uses another HMAC algorithm, or carries a bad sub or role, then it is 401 UNAUTHENTICATED', async () => {
      const exp = nowSec() + 3600;
      const tokens: [string, string][] = [
        ['no exp', jwt.sign({ sub: uniq('forever') }, TEST_JWT_SECRET, { algorithm: 'HS256' })],
        ['HS512', jwt.sign({ sub: uniq('hs512'), exp }, TEST_JWT_SECRET, { algorithm: 'HS512' })],
        ['no sub', jwt.sign({ exp }, TEST_JWT_SECRET, { algorithm: 'HS256' })],
        ['empty sub', jwt.sign({ sub: '', exp }, TEST_JWT_SECRET, { algorithm: 'HS256' })],
        ['129-char sub', jwt.sign({ sub: 's'.repeat(129), exp }, TEST_JWT_SECRET, { algorithm: 'HS256' })],
        ['unknown role', jwt.sign({ sub: uniq('role'), role: 'superuser', exp }, TEST_JWT_SECRET, { algorithm: 'HS256' })],
      ];
      const outcomes: string[] = [];
      for (const [what, token] of tokens) {
        const r = await attempt(saleId, { token, body: { quantity: 1 } });
        expectNoStack(r);
        outcomes.push(`${what}: ${r.status} ${r.body?.error?.code}`);
      }
      expect(outcomes).toEqual(tokens.map(([what]) => `${what}: 401 UNAUTHENTICATED`));
    });

    it('When a token uses alg none, then it is 401 UNAUTHENTICATED, even claiming admin', async () => {
      const payload = { sub: 'mallory', role: 'admin', exp: nowSec() + 3600 };
      const none = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
      expectError(await attempt(saleId, { token: none, body: { quantity: 1 } }), 401, 'UNAUTHENTICATED');
      expectError(await call(base, 'GET', `/api/admin/sales/${saleId}/stats`, { token: none }), 401, 'UNAUTHENTICATED');
    });

    it('When a shopper calls admin routes, then it is 403 FORBIDDEN', async () => {
      const shopper = shopperToken(uniq('nosy'));
      const product = await call(base, 'POST', '/api/admin/products', { token: shopper, body: { sku: uniq('S'), name: 'x', priceCents: 1 } });
      expectError(product, 403, 'FORBIDDEN');
      expectError(await call(base, 'GET', `/api/admin/sales/${saleId}/stats`, { token: shopper }), 403, 'FORBIDDEN');
    });

    it('When a malformed JSON body comes without a token, then auth is judged first: 401, not 400', async () => {
      const headers = { 'content-type': 'application/json' };
      expectError(await attempt(saleId, { rawBody: '{"quantity": ', headers }), 401, 'UNAUTHENTICATED');
      expectError(await call(base, 'POST', '/api/admin/products', { rawBody: '{nope', headers }), 401, 'UNAUTHENTICATED');
      expectError(await call(base, 'POST', '/api/admin/sales', { rawBody: '{nope', headers }), 401, 'UNAUTHENTICATED');
      // Even a body far over the size limit is refused for the missing token first.
      expectError(await attempt(saleId, { rawBody: `{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`, headers }), 401, 'UNAUTHENTICATED');
      // And a shopper with a bad body on an admin route is refused for the role, not the body.
      expectError(await call(base, 'POST', '/api/admin/products', { token: shopperToken(uniq('x')), rawBody: '{nope', headers }), 403, 'FORBIDDEN');
    });

    it('When another shopper reads someone\'s purchase, then it is 404 PURCHASE_NOT_FOUND while the owner gets 200', async () => {
      const owner = shopperToken(uniq('owner'));
      const other = shopperToken(uniq('other'));
      const bought = await attempt(saleId, { token: owner, body: { quantity: 1 } });
      expect(bought.status).toBe(202);
      expectError(await call(base, 'GET', bought.body.statusUrl, { token: other }), 404, 'PURCHASE_NOT_FOUND');
      expectError(await call(base, 'GET', bought.body.statusUrl), 401, 'UNAUTHENTICATED');
      const mine = await call(base, 'GET', bought.body.statusUrl, { token: owner });
      expect(mine.status).toBe(200);
      expect(mine.body).toMatchObject({ purchaseId: bought.body.purchaseId, saleId, quantity: 1 });
      expect(mine.body).not.toHaveProperty('userId');
      // Still hidden from the other shopper once the worker has decided it.
      await waitFor(
        async () => ((await call(base, 'GET', bought.body.statusUrl, { token: owner })).body.status === 'confirmed' ? true : undefined),
        'the purchase to be confirmed',
        10_000,
      );
      expectError(await call(base, 'GET', bought.body.statusUrl, { token: other }), 404, 'PURCHASE_NOT_FOUND');
    });

    it('When a purchase id is malformed or unknown, then it is 404 PURCHASE_NOT_FOUND', async () => {
      const token = shopperToken(uniq('reader'));
      expectError(await call(base, 'GET', '/api/purchases/abc', { token }), 404, 'PURCHASE_NOT_FOUND');
      expectError(await call(base, 'GET', "/api/purchases/1'%20OR%20'1'='1", { token }), 404, 'PURCHASE_NOT_FOUND');
      expectError(await call(base, 'GET', `/api/purchases/${randomUUID()}`, { token }), 404, 'PURCHASE_NOT_FOUND');
    });
  });

  describe('bad input on the attempt endpoint', () => {
    it('When every kind of bad attempt is sent, then each is refused with its code and nothing is taken; no body at all buys 1', async () => {
      const stock = 10;
      const { saleId } = await createSale(base, { stock, perUserLimit: 2 });
      const token = shopperToken(uniq('fuzzer'));
      const json = { 'content-type': 'application/json' };

      const invalid: { what: string; opts: Parameters<typeof call>[3] }[] = [
        { what: 'malformed JSON', opts: { rawBody: '{"quantity": 1', headers: json } },
        { what: 'trailing garbage', opts: { rawBody: '{"quantity": 1} x', headers: json } },
        { what: 'a JSON array', opts: { body: [{ quantity: 1 }] } },
        { what: 'an empty JSON array', opts: { body: [] } },
        { what: 'a JSON string', opts: { rawBody: '"buy"', headers: json } },
        { what: 'a JSON number', opts: { rawBody: '1', headers: json } },
        { what: 'JSON null', opts: { rawBody: 'null', headers: json } },
        { what: 'quantity 0', opts: { body: { quantity: 0 } } },
        { what: 'quantity -1', opts: { body: { quantity: -1 } } },
        { what: 'quantity 1.5', opts: { body: { quantity: 1.5 } } },
        { what: 'quantity "2"', opts: { body: { quantity: '2' } } },
        { what: 'quantity 1e9', opts: { rawBody: '{"quantity": 1e9}', headers: json } },
        { what: 'quantity null', opts: { body: { quantity: null } } },
        { what: 'quantity true', opts: { body: { quantity: true } } },
        { what: 'a price', opts: { body: { quantity: 1, price: 1 } } },
        { what: 'a priceCents', opts: { body: { quantity: 1, priceCents: 1 } } },
        { what: 'a userId', opts: { body: { quantity: 1, userId: 'someone-else' } } },
        { what: 'a status', opts: { body: { quantity: 1, status: 'confirmed' } } },
        { what: 'a __proto__ key', opts: { rawBody: '{"quantity": 1, "__proto__": {"admin": true}}', headers: json } },
        { what: 'an empty Idempotency-Key', opts: { body: { quantity: 1 }, headers: { 'idempotency-key': '' } } },
        { what: 'a blank Idempotency-Key', opts: { body: { quantity: 1 }, headers: { 'idempotency-key': '   ' } } },
        { what: 'an Idempotency-Key with a space', opts: { body: { quantity: 1 }, headers: { 'idempotency-key': 'my key' } } },
        { what: 'a 129-char Idempotency-Key', opts: { body: { quantity: 1 }, headers: { 'idempotency-key': 'k'.repeat(129) } } },
        { what: 'a non-ASCII Idempotency-Key', opts: { body: { quantity: 1 }, headers: { 'idempotency-key': 'caf\u00e9' } } },
      ];
      const outcomes: string[] = [];
      for (const { what, opts } of invalid) {
        const r = await attempt(saleId, { token, ...opts });
        expectNoStack(r);
        outcomes.push(`${what}: ${r.status} ${r.body?.error?.code}`);
      }
      expect(outcomes).toEqual(invalid.map(({ what }) => `${what}: 400 VALIDATION_FAILED`));

      const big = await attempt(saleId, { token, rawBody: JSON.stringify({ quantity: 1, pad: 'x'.repeat(2 * 1024 * 1024) }), headers: json });
      expectError(big, 413, 'PAYLOAD_TOO_LARGE');
      const text = await attempt(saleId, { token, rawBody: '{"quantity": 1}', headers: { 'content-type': 'text/plain' } });
      expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const form = await attempt(saleId, { token, rawBody: 'quantity=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expectError(form, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const latin1 = await attempt(saleId, { token, rawBody: '{"quantity": 1}', headers: { 'content-type': 'application/json; charset=iso-8859-1' } });
      expectError(latin1, 415, 'UNSUPPORTED_MEDIA_TYPE');
      expectError(await attempt(saleId, { token, body: { quantity: 3 } }), 409, 'LIMIT_EXCEEDED');
      // 1,000,000 is valid input, just more than the sale has.
      expectError(await attempt(saleId, { token, body: { quantity: 1_000_000 } }), 409, 'SOLD_OUT');

      await expectNothingTaken(saleId, stock);

      // Refused attempts were not remembered: the same user still gets the full limit.
      const noBody = await attempt(saleId, { token });
      expect(noBody.status).toBe(202);
      expect(noBody.body).toMatchObject({ saleId, quantity: 1, status: 'queued' });
      expect(Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining))).toBe(stock - 1);
      // A 128-char key is the longest accepted.
      const longKey = await attempt(saleId, { token, body: { quantity: 1 }, headers: { 'idempotency-key': 'k'.repeat(128) } });
      expect(longKey.status).toBe(202);
      await waitFor(
        async () => {
          const rows = await stack.api.deps.db('purchases').where({ sale_id: saleId, status: 'confirmed' });
          return rows.length === 2 ? rows : undefined;
        },
        'both purchases to be confirmed in PostgreSQL',
        10_000,
      );
    });
  });

  describe('admin validation', () => {
    const admin = adminToken();
    let productId: string;
    const saleBody = (overrides: Record<string, unknown> = {}) => ({
      productId,
      name: 'Edge sale',
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(Date.now() + 3600_000).toISOString(),
      stock: 5,
      perUserLimit: 2,
      priceCents: 999,
      ...overrides,
    });

    beforeAll(async () => {
      const product = await call(base, 'POST', '/api/admin/products', { token: admin, body: { sku: uniq('EDGE'), name: 'Edge', priceCents: 1500 } });
      expect(product.status).toBe(201);
      productId = product.body.id;
    });

    it('When a sale body breaks a rule, then it is 400 VALIDATION_FAILED and no sale is created', async () => {
      const now = Date.now();
      const { productId: _p, ...withoutProduct } = saleBody();
      const { stock: _s, ...withoutStock } = saleBody();
      const cases: [string, unknown][] = [
        ['endsAt before startsAt', saleBody({ startsAt: new Date(now + 7200_000).toISOString(), endsAt: new Date(now + 3600_000).toISOString() })],
        ['endsAt equal to startsAt', saleBody({ startsAt: new Date(now + 3600_000).toISOString(), endsAt: new Date(now + 3600_000).toISOString() })],
        ['endsAt in the past', saleBody({ startsAt: new Date(now - 7200_000).toISOString(), endsAt: new Date(now - 3600_000).toISOString() })],
        ['stock 0', saleBody({ stock: 0 })],
        ['stock -1', saleBody({ stock: -1 })],
        ['perUserLimit 0', saleBody({ perUserLimit: 0 })],
        ['perUserLimit > stock', saleBody({ stock: 5, perUserLimit: 6 })],
        ['negative priceCents', saleBody({ priceCents: -1 })],
        ['non-integer stock', saleBody({ stock: 2.5 })],
        ['string stock', saleBody({ stock: '5' })],
        ['unknown field', saleBody({ status: 'active' })],
        ['unknown field remaining', saleBody({ remaining: 100 })],
        ['missing productId', withoutProduct],
        ['missing stock', withoutStock],
        ['bad startsAt string', saleBody({ startsAt: 'tomorrow' })],
        ['startsAt without a time', saleBody({ startsAt: '2020-01-01' })],
        ['endsAt a number', saleBody({ endsAt: Date.now() + 3600_000 })],
        ['malformed productId', saleBody({ productId: 'abc' })],
        ['empty name', saleBody({ name: '   ' })],
        ['array body', [saleBody()]],
        ['empty body', {}],
      ];
      const before = await stack.api.deps.db('sales').where({ product_id: productId }).count<{ n: string }[]>('* as n');
      const outcomes: string[] = [];
      for (const [what, body] of cases) {
        const r = await call(base, 'POST', '/api/admin/sales', { token: admin, body });
        expectNoStack(r);
        outcomes.push(`${what}: ${r.status} ${r.body?.error?.code}`);
      }
      expect(outcomes).toEqual(cases.map(([what]) => `${what}: 400 VALIDATION_FAILED`));
      const json = { 'content-type': 'application/json' };
      expectError(await call(base, 'POST', '/api/admin/sales', { token: admin, rawBody: '{"productId":', headers: json }), 400, 'VALIDATION_FAILED');
      const huge = await call(base, 'POST', '/api/admin/sales', { token: admin, rawBody: JSON.stringify(saleBody({ name: 'x'.repeat(2 * 1024 * 1024) })), headers: json });
      expectError(huge, 413, 'PAYLOAD_TOO_LARGE');
      const text = await call(base, 'POST', '/api/admin/sales', { token: admin, rawBody: JSON.stringify(saleBody()), headers: { 'content-type': 'text/plain' } });
      expectError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const after = await stack.api.deps.db('sales').where({ product_id: productId }).count<{ n: string }[]>('* as n');
      expect(Number(after[0]!.n)).toBe(Number(before[0]!.n));
    });

    it('When endsAt is a string that is not an ISO date-time, then it is 400 VALIDATION_FAILED, never 500', async () => {
      // The schema's endsAt refinements run on the raw string when the format check fails.
      for (const endsAt of ['tomorrow', '2999-01-01', '']) {
        const r = await call(base, 'POST', '/api/admin/sales', { token: admin, body: saleBody({ endsAt }) });
        expect({ endsAt, status: r.status, code: r.body?.error?.code }).toEqual({ endsAt, status: 400, code: 'VALIDATION_FAILED' });
        expectNoStack(r);
      }
    });

    it('When a sale names a product nobody created, then it is 404 PRODUCT_NOT_FOUND', async () => {
      expectError(await call(base, 'POST', '/api/admin/sales', { token: admin, body: saleBody({ productId: randomUUID() }) }), 404, 'PRODUCT_NOT_FOUND');
    });

    it('When a product body breaks a rule, then it is 400 VALIDATION_FAILED', async () => {
      const cases: [string, unknown][] = [
        ['negative priceCents', { sku: uniq('P'), name: 'p', priceCents: -1 }],
        ['fractional priceCents', { sku: uniq('P'), name: 'p', priceCents: 1.5 }],
        ['string priceCents', { sku: uniq('P'), name: 'p', priceCents: '100' }],
        ['unknown field', { sku: uniq('P'), name: 'p', priceCents: 1, stock: 5 }],
        ['missing sku', { name: 'p', priceCents: 1 }],
        ['missing name', { sku: uniq('P'), priceCents: 1 }],
        ['missing priceCents', { sku: uniq('P'), name: 'p' }],
        ['sku with a space', { sku: 'has space', name: 'p', priceCents: 1 }],
        ['lowercase currency', { sku: uniq('P'), name: 'p', priceCents: 1, currency: 'usd' }],
        ['null name', { sku: uniq('P'), name: null, priceCents: 1 }],
      ];
      const outcomes: string[] = [];
      for (const [what, body] of cases) {
        const r = await call(base, 'POST', '/api/admin/products', { token: admin, body });
        expectNoStack(r);
        outcomes.push(`${what}: ${r.status} ${r.body?.error?.code}`);
      }
      expect(outcomes).toEqual(cases.map(([what]) => `${what}: 400 VALIDATION_FAILED`));
    });

    it('When a product reuses a sku, then it is 409 SKU_TAKEN', async () => {
      const sku = uniq('DUP');
      const first = await call(base, 'POST', '/api/admin/products', { token: admin, body: { sku, name: 'first', priceCents: 100 } });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ id: expect.any(String), sku, name: 'first', priceCents: 100, currency: 'USD' });
      const again = await call(base, 'POST', '/api/admin/products', { token: admin, body: { sku, name: 'second', priceCents: 200 } });
      expectError(again, 409, 'SKU_TAKEN');
    });

    it('When a valid sale is created, then it is 201 with every field of the sale resource and remaining == stock', async () => {
      const body = saleBody({ stock: 7, perUserLimit: 3, priceCents: 1234, name: 'Midnight drop' });
      const r = await call(base, 'POST', '/api/admin/sales', { token: admin, body });
      expect(r.status).toBe(201);
      expect(r.body).toMatchObject({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
        productId,
        name: 'Midnight drop',
        startsAt: body.startsAt,
        endsAt: body.endsAt,
        status: 'active',
        stock: 7,
        perUserLimit: 3,
        priceCents: 1234,
        remaining: 7,
      });
      const read = await call(base, 'GET', `/api/sales/${r.body.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(r.body);
    });
  });

  describe('reads', () => {
    it('When a purchase is admitted, then GET /api/sales/:id shows remaining dropping live', async () => {
      const { saleId } = await createSale(base, { stock: 6, perUserLimit: 2 });
      const before = await call(base, 'GET', `/api/sales/${saleId}`);
      expect(before.status).toBe(200);
      expect(before.body).toMatchObject({ id: saleId, stock: 6, remaining: 6, status: 'active' });
      const bought = await attempt(saleId, { token: shopperToken(uniq('reader')), body: { quantity: 2 } });
      expect(bought.status).toBe(202);
      const after = await call(base, 'GET', `/api/sales/${saleId}`);
      expect(after.body).toMatchObject({ id: saleId, stock: 6, remaining: 4, status: 'active' });
    });

    it('When sales are listed by status, then an active sale is under active and a bogus status is 400', async () => {
      const { saleId } = await createSale(base, { stock: 3, startsAt: new Date().toISOString() });
      const active = await call(base, 'GET', '/api/sales?status=active&limit=100');
      expect(active.status).toBe(200);
      expect(active.body.items.map((s: { id: string }) => s.id)).toContain(saleId);
      expect(active.body.items.every((s: { status: string }) => s.status === 'active')).toBe(true);
      const upcoming = await call(base, 'GET', '/api/sales?status=upcoming&limit=100');
      expect(upcoming.status).toBe(200);
      expect(upcoming.body.items.map((s: { id: string }) => s.id)).not.toContain(saleId);
      expectError(await call(base, 'GET', '/api/sales?status=bogus'), 400, 'VALIDATION_FAILED');
      expectError(await call(base, 'GET', '/api/sales?limit=0'), 400, 'VALIDATION_FAILED');
      expectError(await call(base, 'GET', '/api/sales?limit=abc'), 400, 'VALIDATION_FAILED');
      expectError(await call(base, 'GET', '/api/sales?offset=-1'), 400, 'VALIDATION_FAILED');
    });

    it("When a shopper lists their purchases, then they come newest first and never include another shopper's", async () => {
      const { saleId: saleA } = await createSale(base, { stock: 10, perUserLimit: 2 });
      const { saleId: saleB } = await createSale(base, { stock: 10, perUserLimit: 2 });
      const me = shopperToken(uniq('lister'));
      const other = shopperToken(uniq('stranger'));
      const theirs = await attempt(saleA, { token: other, body: { quantity: 1 } });
      expect(theirs.status).toBe(202);

      const first = await attempt(saleA, { token: me, body: { quantity: 1 } });
      expect(first.status).toBe(202);
      // Let the first be decided before the second is made, so their times differ.
      await waitFor(
        async () => ((await call(base, 'GET', first.body.statusUrl, { token: me })).body.status === 'confirmed' ? true : undefined),
        'the first purchase to be confirmed',
        10_000,
      );
      const second = await attempt(saleB, { token: me, body: { quantity: 2 } });
      expect(second.status).toBe(202);

      const list = await call(base, 'GET', '/api/me/purchases', { token: me });
      expect(list.status).toBe(200);
      const ids = list.body.items.map((p: { purchaseId: string }) => p.purchaseId);
      expect(ids).toEqual([second.body.purchaseId, first.body.purchaseId]);
      expect(ids).not.toContain(theirs.body.purchaseId);
      expect(list.body.items[0]).toMatchObject({ saleId: saleB, quantity: 2 });
      expect(list.body.items[1]).toMatchObject({ saleId: saleA, quantity: 1, status: 'confirmed' });
      expect(Date.parse(list.body.items[0].createdAt)).toBeGreaterThan(Date.parse(list.body.items[1].createdAt));

      // Once both are decided in PostgreSQL, the order holds.
      await waitFor(
        async () => {
          const l = await call(base, 'GET', '/api/me/purchases', { token: me });
          return l.body.items.every((p: { status: string }) => p.status === 'confirmed') ? l : undefined;
        },
        'both purchases to be confirmed',
        10_000,
      ).then((l) => expect(l.body.items.map((p: { purchaseId: string }) => p.purchaseId)).toEqual([second.body.purchaseId, first.body.purchaseId]));

      const theirList = await call(base, 'GET', '/api/me/purchases', { token: other });
      expect(theirList.body.items.map((p: { purchaseId: string }) => p.purchaseId)).toEqual([theirs.body.purchaseId]);
      expectError(await call(base, 'GET', '/api/me/purchases'), 401, 'UNAUTHENTICATED');
      expectError(await call(base, 'GET', '/api/me/purchases?limit=abc', { token: me }), 400, 'VALIDATION_FAILED');
    });

    it('When a route does not exist, then it is 404 in the error envelope', async () => {
      expectError(await call(base, 'GET', '/api/nope'), 404, 'ROUTE_NOT_FOUND');
      expectError(await call(base, 'GET', '/nope'), 404, 'ROUTE_NOT_FOUND');
      expectError(await call(base, 'DELETE', `/api/sales/${randomUUID()}`), 404, 'ROUTE_NOT_FOUND');
      expectError(await call(base, 'POST', '/api/nope', { body: { a: 1 } }), 404, 'ROUTE_NOT_FOUND');
    });
  });

  describe('health', () => {
    it('When health is probed, then live, ready and the deep check all answer 200 with postgres, redis and queue checks', async () => {
      const live = await call(base, 'GET', '/api/health/live');
      expect(live.status).toBe(200);
      const ready = await call(base, 'GET', '/api/health/ready');
      expect(ready.status).toBe(200);
      expect(ready.body.checks).toMatchObject({ postgres: { ok: true }, redis: { ok: true }, queue: { ok: true } });
      const deep = await call(base, 'GET', '/api/health');
      expect(deep.status).toBe(200);
      expect(deep.body).toMatchObject({ status: 'ok', checks: { postgres: { ok: true }, redis: { ok: true }, queue: { ok: true } } });
      expectNoStack(deep);
    });
  });
});

describe('When the API limits each shopper to 3 attempts a minute', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Its own Redis prefix: rate-limit counters never leak between test runs or stacks.
    stack = await startStack(testConfig({ RATE_LIMIT_USER_PER_MIN: '3', REDIS_PREFIX: uniq('fsrlu') }));
  });
  afterAll(async () => stack?.stop());

  it('When one shopper makes a 4th attempt, then it is 429 RATE_LIMITED with a numeric Retry-After, and another shopper is unaffected', async () => {
    const base = stack.api.url;
    const { saleId } = await createSale(base, { stock: 20, perUserLimit: 5 });
    const eager = shopperToken(uniq('eager'));
    for (let i = 0; i < 3; i++) {
      const r = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: eager, body: { quantity: 1 } });
      expect(r.status).toBe(202);
    }
    const fourth = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: eager, body: { quantity: 1 } });
    expectError(fourth, 429, 'RATE_LIMITED');
    const retryAfter = fourth.headers.get('retry-after');
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    // The refused attempt took nothing.
    expect(Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining))).toBe(17);

    const calm = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(uniq('calm')), body: { quantity: 1 } });
    expect(calm.status).toBe(202);
  });
});

describe('When the API limits each client IP to 2 attempts a minute', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ RATE_LIMIT_IP_PER_MIN: '2', REDIS_PREFIX: uniq('fsrli') }));
  });
  afterAll(async () => stack?.stop());

  it('When a third attempt comes from the same IP, then it is 429 RATE_LIMITED whoever the shopper is', async () => {
    const base = stack.api.url;
    const { saleId } = await createSale(base, { stock: 20, perUserLimit: 5 });
    const path = `/api/sales/${saleId}/purchases`;
    expect((await call(base, 'POST', path, { token: shopperToken(uniq('a')), body: { quantity: 1 } })).status).toBe(202);
    expect((await call(base, 'POST', path, { token: shopperToken(uniq('b')), body: { quantity: 1 } })).status).toBe(202);
    const third = await call(base, 'POST', path, { token: shopperToken(uniq('c')), body: { quantity: 1 } });
    expectError(third, 429, 'RATE_LIMITED');
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    // Reads are not attempts: they stay open.
    expect((await call(base, 'GET', `/api/sales/${saleId}`)).status).toBe(200);
    expect(Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining))).toBe(18);
  });
});
