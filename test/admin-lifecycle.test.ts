import { randomUUID } from 'node:crypto';
import { RunningWorker, startWorker } from '../src/worker-process';
import { adminToken, call, createSale, pool, Reply, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/**
 * The admin API around a sale's life: products list/get/patch, sales list/get, edits
 * before and during a sale, and cancellation (also in the middle of a burst, with a
 * slowed worker). Each test makes its own product and sale.
 */

const uniq = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
const iso = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString();
const HOUR = 3600_000;
const SALE_KEY_RETENTION_MS = 48 * HOUR;

function expectError(r: Reply, status: number, code: string): void {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(typeof r.body.error.message).toBe('string');
}

/** Every bad request of a table gets the same status and code; one line per case on failure. */
async function expectAll(cases: [string, () => Promise<Reply>][], status: number, code: string): Promise<void> {
  const outcomes: string[] = [];
  for (const [what, send] of cases) {
    const r = await send();
    outcomes.push(`${what}: ${r.status} ${r.body?.error?.code}`);
  }
  expect(outcomes).toEqual(cases.map(([what]) => `${what}: ${status} ${code}`));
}

describe('When an admin manages products and sales', () => {
  let stack: Stack;
  let base: string;
  const admin = adminToken();
  const asAdmin = (method: string, path: string, body?: unknown) => call(base, method, path, { token: admin, body });
  const attempt = (saleId: string, user = uniq('buyer')) =>
    call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(user), body: { quantity: 1 } });
  const newProduct = async (name = 'Lifecycle product') => {
    const r = await asAdmin('POST', '/api/admin/products', { sku: uniq('LC'), name, priceCents: 1000, description: 'first' });
    expect(r.status).toBe(201);
    return r.body;
  };

  /** Both stores' remaining units, once every admitted purchase of the sale is decided. */
  async function quiescentRemaining(saleId: string): Promise<{ redis: number; postgres: number }> {
    const { db, redis, keys } = stack.api.deps;
    return waitFor(
      async () => {
        const pending = Object.values(await redis.hgetall(keys.sale(saleId).purchases)).filter((r) => /^(queued|processing)\|/.test(r));
        if (pending.length > 0) return undefined;
        const inv = await db('sale_inventory').where({ sale_id: saleId }).first();
        const gate = Number(await redis.get(keys.sale(saleId).remaining));
        return gate === inv.remaining ? { redis: gate, postgres: inv.remaining as number } : undefined;
      },
      'every purchase decided and Redis remaining == PostgreSQL remaining',
      20_000,
    );
  }

  beforeAll(async () => {
    stack = await startStack(testConfig());
    base = stack.api.url;
  });
  afterAll(async () => stack?.stop());

  describe('products', () => {
    it('When an admin lists, reads and patches products, then the list is newest first and paged, and a patch changes only what it names', async () => {
      const a = await newProduct('A');
      const b = await newProduct('B');
      const c = await newProduct('C');
      await newProduct('D'); // page 2 below needs 4 products even on a fresh database

      const all = await asAdmin('GET', '/api/admin/products?limit=100');
      expect(all.status).toBe(200);
      expect(all.body).toMatchObject({ limit: 100, offset: 0 });
      const ids: string[] = all.body.items.map((p: { id: string }) => p.id);
      expect([ids.indexOf(c.id), ids.indexOf(b.id), ids.indexOf(a.id)].every((i, k, xs) => i >= 0 && (k === 0 || i > xs[k - 1]!))).toBe(true);
      const times = all.body.items.map((p: { createdAt: string }) => Date.parse(p.createdAt));
      expect(times).toEqual([...times].sort((x, y) => y - x));

      // Other tests may add products meanwhile (always newer), so page 2 never starts above page 1's end.
      const page1 = await asAdmin('GET', '/api/admin/products?limit=2&offset=0');
      const page2 = await asAdmin('GET', '/api/admin/products?limit=2&offset=2');
      expect(page1.body).toMatchObject({ limit: 2, offset: 0 });
      expect(page1.body.items).toHaveLength(2);
      expect(page2.body.items).toHaveLength(2);
      expect(Date.parse(page2.body.items[0].createdAt)).toBeLessThanOrEqual(Date.parse(page1.body.items[1].createdAt));

      const read = await asAdmin('GET', `/api/admin/products/${b.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(b);

      const patched = await asAdmin('PATCH', `/api/admin/products/${b.id}`, { name: 'B renamed', priceCents: 2500, currency: 'EUR' });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id: b.id, sku: b.sku, name: 'B renamed', priceCents: 2500, currency: 'EUR', description: 'first', createdAt: b.createdAt });
      expect(Date.parse(patched.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(b.updatedAt));
      const cleared = await asAdmin('PATCH', `/api/admin/products/${b.id}`, { description: null });
      expect(cleared.body).toMatchObject({ name: 'B renamed', description: null });
      expect((await asAdmin('GET', `/api/admin/products/${b.id}`)).body).toEqual(cleared.body);
    });

    it('When a product patch is not strictly valid, then it is 400 VALIDATION_FAILED and the product is unchanged', async () => {
      const p = await newProduct();
      const json = { 'content-type': 'application/json' };
      const patch = (body: unknown) => () => asAdmin('PATCH', `/api/admin/products/${p.id}`, body);
      const raw = (rawBody: string) => () => call(base, 'PATCH', `/api/admin/products/${p.id}`, { token: admin, rawBody, headers: json });
      await expectAll(
        [
          ['sku (immutable)', patch({ sku: uniq('NEW') })],
          ['sku with a name', patch({ sku: p.sku, name: 'x' })],
          ['empty body', patch({})],
          ['no body', () => call(base, 'PATCH', `/api/admin/products/${p.id}`, { token: admin })],
          ['unknown field', patch({ name: 'x', stock: 5 })],
          ['id in the body', patch({ id: randomUUID() })],
          ['string priceCents', patch({ priceCents: '100' })],
          ['negative priceCents', patch({ priceCents: -1 })],
          ['fractional priceCents', patch({ priceCents: 1.5 })],
          ['empty name', patch({ name: '  ' })],
          ['null name', patch({ name: null })],
          ['lowercase currency', patch({ currency: 'eur' })],
          ['array body', patch([{ name: 'x' }])],
          ['malformed JSON', raw('{"name":')],
        ],
        400,
        'VALIDATION_FAILED',
      );
      const sku = await asAdmin('PATCH', `/api/admin/products/${p.id}`, { sku: 'OTHER' });
      expect(sku.body.error.message).toMatch(/sku/);
      expect((await asAdmin('GET', `/api/admin/products/${p.id}`)).body).toEqual(p);
    });

    it('When a product id is unknown or malformed, then reading and patching it are 404 PRODUCT_NOT_FOUND', async () => {
      expectError(await asAdmin('GET', `/api/admin/products/${randomUUID()}`), 404, 'PRODUCT_NOT_FOUND');
      expectError(await asAdmin('PATCH', `/api/admin/products/${randomUUID()}`, { name: 'x' }), 404, 'PRODUCT_NOT_FOUND');
      expectError(await asAdmin('GET', '/api/admin/products/abc'), 404, 'PRODUCT_NOT_FOUND');
      expectError(await asAdmin('PATCH', '/api/admin/products/abc', { name: 'x' }), 404, 'PRODUCT_NOT_FOUND');
      expectError(await asAdmin('GET', '/api/admin/products?limit=0'), 400, 'VALIDATION_FAILED');
      expectError(await asAdmin('GET', '/api/admin/products?sort=name'), 400, 'VALIDATION_FAILED');
    });
  });

  describe('auth on every admin route', () => {
    it('When a shopper calls an admin route, then it is 403 FORBIDDEN; with no token, 401 UNAUTHENTICATED; nothing changes', async () => {
      const p = await newProduct();
      const { saleId } = await createSale(base, { stock: 5 });
      const routes: [string, string, unknown?][] = [
        ['GET', '/api/admin/products'],
        ['GET', `/api/admin/products/${p.id}`],
        ['PATCH', `/api/admin/products/${p.id}`, { name: 'hijacked' }],
        ['GET', '/api/admin/sales'],
        ['GET', `/api/admin/sales/${saleId}`],
        ['PATCH', `/api/admin/sales/${saleId}`, { stock: 500 }],
        ['POST', `/api/admin/sales/${saleId}/cancel`, {}],
      ];
      const shopper = shopperToken(uniq('nosy'));
      await expectAll(
        routes.map(([method, path, body]) => [`${method} ${path}`, () => call(base, method, path, { token: shopper, body })]),
        403,
        'FORBIDDEN',
      );
      await expectAll(
        routes.map(([method, path, body]) => [`${method} ${path}`, () => call(base, method, path, { body })]),
        401,
        'UNAUTHENTICATED',
      );
      expect((await asAdmin('GET', `/api/admin/products/${p.id}`)).body.name).toBe(p.name);
      expect((await call(base, 'GET', `/api/sales/${saleId}`)).body).toMatchObject({ status: 'active', stock: 5 });
    });
  });

  describe('sales list and read', () => {
    it('When sales are listed by product and status, then each filter returns its sales, paged, in the public view', async () => {
      const p = await newProduct();
      const mk = async (startsIn: number) => {
        const r = await asAdmin('POST', '/api/admin/sales', {
          productId: p.id,
          name: uniq('list'),
          startsAt: iso(startsIn),
          endsAt: iso(2 * HOUR),
          stock: 3,
          perUserLimit: 1,
          priceCents: 100,
        });
        expect(r.status).toBe(201);
        return r.body.id as string;
      };
      const upcoming = await mk(HOUR);
      const active = await mk(-60_000);
      const cancelled = await mk(-30_000);
      expect((await asAdmin('POST', `/api/admin/sales/${cancelled}/cancel`)).status).toBe(200);

      const ids = async (query: string) => {
        const r = await asAdmin('GET', `/api/admin/sales?productId=${p.id}&limit=100${query}`);
        expect(r.status).toBe(200);
        return r.body.items.map((s: { id: string }) => s.id).sort();
      };
      expect(await ids('')).toEqual([upcoming, active, cancelled].sort());
      expect(await ids('&status=upcoming')).toEqual([upcoming]);
      expect(await ids('&status=active')).toEqual([active]);
      expect(await ids('&status=cancelled')).toEqual([cancelled]);
      expect(await ids('&status=ended')).toEqual([]);

      const pages = await Promise.all([0, 1, 2, 3].map((offset) => asAdmin('GET', `/api/admin/sales?productId=${p.id}&limit=1&offset=${offset}`)));
      expect(pages.map((r) => r.body.items.length)).toEqual([1, 1, 1, 0]);
      expect(new Set(pages.flatMap((r) => r.body.items.map((s: { id: string }) => s.id))).size).toBe(3);

      const listed = (await asAdmin('GET', `/api/admin/sales?productId=${p.id}`)).body.items;
      for (const view of listed) {
        expect((await call(base, 'GET', `/api/sales/${view.id}`)).body).toEqual(view);
        expect((await asAdmin('GET', `/api/admin/sales/${view.id}`)).body).toEqual(view);
      }

      await expectAll(
        [
          ['bogus status', () => asAdmin('GET', '/api/admin/sales?status=bogus')],
          ['malformed productId', () => asAdmin('GET', '/api/admin/sales?productId=abc')],
          ['unknown parameter', () => asAdmin('GET', '/api/admin/sales?sort=name')],
          ['limit 101', () => asAdmin('GET', '/api/admin/sales?limit=101')],
        ],
        400,
        'VALIDATION_FAILED',
      );
      expectError(await asAdmin('GET', `/api/admin/sales/${randomUUID()}`), 404, 'SALE_NOT_FOUND');
      expectError(await asAdmin('GET', '/api/admin/sales/abc'), 404, 'SALE_NOT_FOUND');
    });
  });

  describe('editing a sale', () => {
    it('When a sale has not started, then every field may change, in PostgreSQL and in the gate, with key TTLs following the new end', async () => {
      const { saleId } = await createSale(base, { stock: 10, perUserLimit: 2, startsAt: iso(HOUR), endsAt: iso(2 * HOUR) });
      const change = { name: 'Renamed', startsAt: iso(2 * HOUR), endsAt: iso(5 * HOUR), stock: 4, perUserLimit: 3, priceCents: 777, holdSeconds: 120 };
      const r = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, change);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ ...change, id: saleId, status: 'upcoming', remaining: 4 });

      const { db, redis, keys } = stack.api.deps;
      const row = await db('sales').where({ id: saleId }).first();
      expect(row).toMatchObject({ name: 'Renamed', stock: 4, per_user_limit: 3, hold_seconds: 120 });
      expect(Number(row.price_cents)).toBe(777);
      expect(row.ends_at.toISOString()).toBe(change.endsAt);
      expect(await db('sale_inventory').where({ sale_id: saleId }).first()).toMatchObject({ stock: 4, remaining: 4 });
      const k = keys.sale(saleId);
      expect(await redis.hgetall(k.meta)).toMatchObject({
        startsAt: String(Date.parse(change.startsAt)),
        endsAt: String(Date.parse(change.endsAt)),
        cancelled: '0',
        perUserLimit: '3',
        stock: '4',
      });
      expect(await redis.get(k.remaining)).toBe('4');
      const expireAt = Date.parse(change.endsAt) + SALE_KEY_RETENTION_MS;
      for (const key of [k.meta, k.remaining]) expect(Math.abs((await redis.pexpiretime(key)) - expireAt)).toBeLessThan(5);

      // Moving the start into the past opens it at once, with the new limit.
      const opened = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, { startsAt: iso(-1000) });
      expect(opened.body).toMatchObject({ status: 'active', remaining: 4 });
      const buyer = shopperToken(uniq('early'));
      const bought = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: buyer, body: { quantity: 3 } });
      expect(bought.status).toBe(202);
      expect(await quiescentRemaining(saleId)).toEqual({ redis: 1, postgres: 1 });
    });

    it('When a sale edit is not strictly valid, then it is 400 VALIDATION_FAILED and nothing changes', async () => {
      const { saleId } = await createSale(base, { stock: 5, perUserLimit: 2, startsAt: iso(HOUR), endsAt: iso(2 * HOUR) });
      const before = (await asAdmin('GET', `/api/admin/sales/${saleId}`)).body;
      const patch = (body: unknown) => () => asAdmin('PATCH', `/api/admin/sales/${saleId}`, body);
      await expectAll(
        [
          ['empty body', patch({})],
          ['no body', () => call(base, 'PATCH', `/api/admin/sales/${saleId}`, { token: admin })],
          ['unknown field status', patch({ status: 'active' })],
          ['unknown field remaining', patch({ remaining: 100 })],
          ['productId', patch({ productId: randomUUID() })],
          ['string stock', patch({ stock: '6' })],
          ['fractional stock', patch({ stock: 6.5 })],
          ['stock 0', patch({ stock: 0 })],
          ['perUserLimit 0', patch({ perUserLimit: 0 })],
          ['negative priceCents', patch({ priceCents: -1 })],
          ['holdSeconds 0', patch({ holdSeconds: 0 })],
          ['endsAt a number', patch({ endsAt: Date.now() + HOUR })],
          ['startsAt not a date-time', patch({ startsAt: 'tomorrow' })],
          ['endsAt in the past', patch({ endsAt: iso(-HOUR) })],
          ['endsAt before startsAt, both sent', patch({ startsAt: iso(3 * HOUR), endsAt: iso(2.5 * HOUR) })],
          ['endsAt before the stored startsAt', patch({ endsAt: iso(HOUR / 2) })],
          ['startsAt after the stored endsAt', patch({ startsAt: iso(3 * HOUR) })],
          ['perUserLimit over the new stock, both sent', patch({ stock: 3, perUserLimit: 4 })],
          ['perUserLimit over the stored stock', patch({ perUserLimit: 6 })],
          ['stock under the stored perUserLimit', patch({ stock: 1 })],
          ['empty name', patch({ name: '' })],
          ['array body', patch([{ name: 'x' }])],
        ],
        400,
        'VALIDATION_FAILED',
      );
      expect((await asAdmin('GET', `/api/admin/sales/${saleId}`)).body).toEqual(before);
      expectError(await asAdmin('PATCH', `/api/admin/sales/${randomUUID()}`, { name: 'x' }), 404, 'SALE_NOT_FOUND');
      expectError(await asAdmin('PATCH', '/api/admin/sales/abc', { name: 'x' }), 404, 'SALE_NOT_FOUND');
    });

    it('When a sale has started, then startsAt, perUserLimit, priceCents, holdSeconds, an earlier end and less stock are 409 SALE_STARTED, while name, a later end and more stock apply', async () => {
      const { saleId } = await createSale(base, { stock: 5, perUserLimit: 2, priceCents: 500 });
      const before = (await asAdmin('GET', `/api/admin/sales/${saleId}`)).body;
      const patch = (body: unknown) => () => asAdmin('PATCH', `/api/admin/sales/${saleId}`, body);
      await expectAll(
        [
          ['startsAt', patch({ startsAt: iso(-1000) })],
          ['perUserLimit', patch({ perUserLimit: 1 })],
          ['priceCents', patch({ priceCents: 1 })],
          ['holdSeconds', patch({ holdSeconds: 30 })],
          ['an earlier endsAt', patch({ endsAt: iso(HOUR / 2) })],
          ['less stock', patch({ stock: 4 })],
          ['a later endsAt with a new price', patch({ endsAt: iso(3 * HOUR), priceCents: 1 })],
        ],
        409,
        'SALE_STARTED',
      );
      const named = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, { priceCents: 1 });
      expect(named.body.error.message).toMatch(/priceCents/);
      expect((await asAdmin('GET', `/api/admin/sales/${saleId}`)).body).toEqual(before);

      // Fields sent with their current values are no change.
      const unchanged = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, { startsAt: before.startsAt, priceCents: 500, name: 'Still on' });
      expect(unchanged.status).toBe(200);
      expect(unchanged.body).toEqual({ ...before, name: 'Still on' });

      const endsAt = iso(3 * HOUR);
      const later = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, { endsAt, stock: 8 });
      expect(later.status).toBe(200);
      expect(later.body).toMatchObject({ endsAt, stock: 8, remaining: 8, status: 'active', perUserLimit: 2, priceCents: 500 });
      const { redis, keys } = stack.api.deps;
      const k = keys.sale(saleId);
      expect(await redis.hmget(k.meta, 'endsAt', 'stock')).toEqual([String(Date.parse(endsAt)), '8']);
      expect(Math.abs((await redis.pexpiretime(k.meta)) - (Date.parse(endsAt) + SALE_KEY_RETENTION_MS))).toBeLessThan(5);
      expect(await quiescentRemaining(saleId)).toEqual({ redis: 8, postgres: 8 });
    });

    it('When stock would drop below what is sold, then it is 409 STOCK_BELOW_SOLD; raised on a sold-out sale, it admits again within a second and both stores agree', async () => {
      const { saleId } = await createSale(base, { stock: 3, perUserLimit: 1 });
      const replies = await Promise.all([1, 2, 3].map(() => attempt(saleId)));
      expect(replies.map((r) => r.status)).toEqual([202, 202, 202]);
      expectError(await attempt(saleId), 409, 'SOLD_OUT'); // now remembered by the sold-out cache
      expect(await quiescentRemaining(saleId)).toEqual({ redis: 0, postgres: 0 });
      expect((await call(base, 'GET', `/api/sales/${saleId}`)).body.status).toBe('sold_out');

      const below = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, { stock: 2 });
      expectError(below, 409, 'STOCK_BELOW_SOLD');
      expect(below.body.error.message).toMatch(/3 units are sold/);

      const raised = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, { stock: 5 });
      const raisedAt = Date.now();
      expect(raised.status).toBe(200);
      expect(raised.body).toMatchObject({ stock: 5, remaining: 2, status: 'active' });
      const { db, redis, keys } = stack.api.deps;
      expect(await db('sale_inventory').where({ sale_id: saleId }).first()).toMatchObject({ stock: 5, remaining: 2 });
      expect(await redis.get(keys.sale(saleId).remaining)).toBe('2');
      // Keys made after the sale was loaded (its purchases, its buyers) now expire with it too.
      const expireAt = Date.parse(raised.body.endsAt) + SALE_KEY_RETENTION_MS;
      for (const key of [keys.sale(saleId).purchases, keys.sale(saleId).users]) expect(Math.abs((await redis.pexpiretime(key)) - expireAt)).toBeLessThan(5);

      await waitFor(async () => ((await attempt(saleId)).status === 202 ? true : undefined), 'an admission after the raise', 5000, 20);
      expect(Date.now() - raisedAt).toBeLessThan(1000);
      expect(await quiescentRemaining(saleId)).toEqual({ redis: 1, postgres: 1 });
      const totals = await db('orders').where({ sale_id: saleId }).count<{ n: string }[]>('* as n');
      expect(Number(totals[0]!.n)).toBe(4);
    });

    it('When a sale is cancelled or has ended, then an edit is 409 SALE_CANCELLED or SALE_ENDED', async () => {
      const { saleId: cancelled } = await createSale(base, { stock: 5 });
      expect((await asAdmin('POST', `/api/admin/sales/${cancelled}/cancel`)).status).toBe(200);
      expectError(await asAdmin('PATCH', `/api/admin/sales/${cancelled}`, { stock: 50 }), 409, 'SALE_CANCELLED');
      expectError(await asAdmin('PATCH', `/api/admin/sales/${cancelled}`, { name: 'x' }), 409, 'SALE_CANCELLED');

      const { saleId: ending } = await createSale(base, { stock: 5, endsAt: iso(1200) });
      await waitFor(async () => ((await call(base, 'GET', `/api/sales/${ending}`)).body.status === 'ended' ? true : undefined), 'the sale to end', 5000);
      expectError(await asAdmin('PATCH', `/api/admin/sales/${ending}`, { endsAt: iso(HOUR) }), 409, 'SALE_ENDED');
      expectError(await asAdmin('POST', `/api/admin/sales/${ending}/cancel`), 409, 'SALE_ENDED');
    });
  });

  describe('cancelling a sale', () => {
    it('When a sale with confirmed orders is cancelled, then admissions stop, the orders stand and are reported, and cancelling again answers the same', async () => {
      const { saleId } = await createSale(base, { stock: 5, perUserLimit: 1 });
      expect((await Promise.all([attempt(saleId), attempt(saleId)])).map((r) => r.status)).toEqual([202, 202]);
      expect(await quiescentRemaining(saleId)).toEqual({ redis: 3, postgres: 3 });

      const first = await call(base, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: admin });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ id: saleId, status: 'cancelled', stock: 5, remaining: 3, confirmedOrders: 2, unitsSold: 2, queuedAtCancel: 0 });
      expect(Date.parse(first.body.cancelledAt)).toBeLessThanOrEqual(Date.now());
      expectError(await attempt(saleId), 409, 'SALE_CANCELLED');

      const again = await asAdmin('POST', `/api/admin/sales/${saleId}/cancel`, {});
      expect(again.status).toBe(200);
      expect(again.body).toEqual(first.body);
      expect((await call(base, 'GET', `/api/sales/${saleId}`)).body).toMatchObject({ status: 'cancelled' });
      const orders = await stack.api.deps.db('orders').where({ sale_id: saleId });
      expect(orders).toHaveLength(2);
      expect(await stack.api.deps.redis.hget(stack.api.deps.keys.sale(saleId).meta, 'cancelled')).toBe('1');
    });

    it('When an upcoming sale is cancelled, then it reads cancelled and never opens', async () => {
      const { saleId } = await createSale(base, { stock: 5, startsAt: iso(HOUR), endsAt: iso(2 * HOUR) });
      const r = await asAdmin('POST', `/api/admin/sales/${saleId}/cancel`);
      expect(r.body).toMatchObject({ status: 'cancelled', remaining: 5, confirmedOrders: 0, unitsSold: 0, queuedAtCancel: 0 });
      const opened = await asAdmin('PATCH', `/api/admin/sales/${saleId}`, { startsAt: iso(-1000) });
      expectError(opened, 409, 'SALE_CANCELLED');
    });

    it('When a cancel carries a body other than {}, or names no sale, then it is 400 or 404 and nothing is cancelled', async () => {
      const { saleId } = await createSale(base, { stock: 5 });
      const json = { 'content-type': 'application/json' };
      const path = `/api/admin/sales/${saleId}/cancel`;
      await expectAll(
        [
          ['a field', () => asAdmin('POST', path, { reason: 'because' })],
          ['an array', () => asAdmin('POST', path, [])],
          ['a string', () => call(base, 'POST', path, { token: admin, rawBody: '"now"', headers: json })],
          ['null', () => call(base, 'POST', path, { token: admin, rawBody: 'null', headers: json })],
          ['malformed JSON', () => call(base, 'POST', path, { token: admin, rawBody: '{', headers: json })],
        ],
        400,
        'VALIDATION_FAILED',
      );
      expect((await call(base, 'GET', `/api/sales/${saleId}`)).body.status).toBe('active');
      expectError(await asAdmin('POST', `/api/admin/sales/${randomUUID()}/cancel`), 404, 'SALE_NOT_FOUND');
      expectError(await asAdmin('POST', '/api/admin/sales/abc/cancel'), 404, 'SALE_NOT_FOUND');
    });
  });
});

describe('When purchases are still queued (no worker running yet)', () => {
  let stack: Stack;
  let base: string;
  let worker: RunningWorker | undefined;
  const admin = adminToken();
  const attempt = (saleId: string, user = uniq('queued')) =>
    call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(user), body: { quantity: 1 } });

  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
    base = stack.api.url;
  });
  afterEach(async () => {
    await worker?.stop();
    worker = undefined;
  });
  afterAll(async () => stack?.stop());

  const decided = (saleId: string, n: number) =>
    waitFor(
      async () => {
        const rows = await stack.api.deps.db('purchases').where({ sale_id: saleId });
        return rows.length === n ? rows : undefined;
      },
      `${n} purchases decided`,
      20_000,
    );

  it('When stock is raised while purchases are queued, then both stores move by the same delta and agree once they are decided', async () => {
    const { saleId } = await createSale(base, { stock: 5, perUserLimit: 1 });
    expect((await Promise.all([1, 2, 3].map(() => attempt(saleId)))).map((r) => r.status)).toEqual([202, 202, 202]);
    const raised = await call(base, 'PATCH', `/api/admin/sales/${saleId}`, { token: admin, body: { stock: 8 } });
    expect(raised.body).toMatchObject({ stock: 8, remaining: 5 });
    const { db, redis, keys } = stack.api.deps;
    expect(await db('sale_inventory').where({ sale_id: saleId }).first()).toMatchObject({ stock: 8, remaining: 8 });

    worker = await startWorker(stack.config, stack.api.deps.logger);
    const rows = await decided(saleId, 3);
    expect(rows.every((r: { status: string }) => r.status === 'confirmed')).toBe(true);
    await waitFor(async () => ((await redis.get(keys.sale(saleId).remaining)) === '5' ? true : undefined), 'the gate to settle');
    expect(await db('sale_inventory').where({ sale_id: saleId }).first()).toMatchObject({ stock: 8, remaining: 5 });
  });

  it('When a sale with queued purchases is cancelled, then it reports them, and the worker ends each rejected SALE_CANCELLED and gives its unit back', async () => {
    const { saleId } = await createSale(base, { stock: 5, perUserLimit: 1 });
    const owner = uniq('owner');
    const admitted = await Promise.all([owner, uniq('q'), uniq('q')].map((user) => attempt(saleId, user)));
    expect(admitted.map((r) => r.status)).toEqual([202, 202, 202]);
    const cancel = await call(base, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: admin });
    expect(cancel.body).toMatchObject({ status: 'cancelled', remaining: 2, confirmedOrders: 0, unitsSold: 0, queuedAtCancel: 3 });

    worker = await startWorker(stack.config, stack.api.deps.logger);
    const rows = await decided(saleId, 3);
    expect(rows.map((r: { status: string; reason: string }) => `${r.status} ${r.reason}`)).toEqual(Array(3).fill('rejected SALE_CANCELLED'));
    const { db, redis, keys } = stack.api.deps;
    await waitFor(async () => ((await redis.get(keys.sale(saleId).remaining)) === '5' ? true : undefined), 'the units to come back');
    expect(await db('sale_inventory').where({ sale_id: saleId }).first()).toMatchObject({ stock: 5, remaining: 5 });
    const seen = await call(base, 'GET', admitted[0]!.body.statusUrl, { token: shopperToken(owner) });
    expect(seen.body).toMatchObject({ status: 'rejected', reason: 'SALE_CANCELLED' });
    // Once decided, the report is unchanged.
    const again = await call(base, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: admin });
    expect(again.body).toMatchObject({ confirmedOrders: 0, unitsSold: 0, queuedAtCancel: 3, cancelledAt: cancel.body.cancelledAt });
  });
});

describe('When a worker writes slowly (each transaction held 300 ms)', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Small batches too, so the first wave takes several 300 ms transactions and some of it is still queued at the cancel.
    stack = await startStack(testConfig({ WORKER_FAULT_HOLD_MS: '300', WORKER_BATCH_SIZE: '20' }));
  });
  afterAll(async () => stack?.stop());

  it('When a sale is cancelled in the middle of a burst, then nothing is admitted after, queued purchases end SALE_CANCELLED, confirmed orders match the report, and the stores agree', async () => {
    const base = stack.api.url;
    const admin = adminToken();
    const stock = 200;
    const { saleId } = await createSale(base, { stock, perUserLimit: 1 });
    const { db, redis, keys } = stack.api.deps;

    type Answer = { user: string; status: number; code?: string; purchaseId?: string; answeredAt: number };
    const attempt = async (user: string): Promise<Answer> => {
      const r = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(user), body: { quantity: 1 } });
      return { user, status: r.status, code: r.body?.error?.code, purchaseId: r.body?.purchaseId, answeredAt: Date.now() };
    };

    // Arrange: the first 50 attempts run; the other 250 wait for the cancel to be sent, then race it
    // (stock is far above what can be admitted before the gate's flag, so nothing sells out).
    const FIRST = 50;
    const TOTAL = 300;
    let releaseSecondWave!: () => void;
    const secondWave = new Promise<void>((resolve) => (releaseSecondWave = resolve));
    let firstAnswered = 0;
    const burst = pool(
      Array.from({ length: TOTAL }, (_, i) => async () => {
        if (i >= FIRST) await secondWave;
        const a = await attempt(`burst-${i}-${saleId}`);
        if (i < FIRST) firstAnswered++;
        return a;
      }),
      50,
    );

    // Act: cancel once the first wave is answered and the worker has confirmed something.
    await waitFor(
      async () => (firstAnswered === FIRST && (await db('orders').where({ sale_id: saleId }).first()) ? true : undefined),
      'the first wave answered and one order confirmed',
      20_000,
      10,
    );
    const cancelling = call(base, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: admin }).then((reply) => ({ reply, returnedAt: Date.now() }));
    releaseSecondWave();
    const answers = await burst;
    const { reply: cancel, returnedAt } = await cancelling;
    const afterCancel = await Promise.all(Array.from({ length: 20 }, (_, i) => attempt(`late-${i}-${saleId}`)));

    // Assert: the cancel, and no admission once it had returned.
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ id: saleId, status: 'cancelled' });
    const all = [...answers, ...afterCancel];
    expect(new Set(all.map((a) => `${a.status} ${a.code ?? 'queued'}`))).toEqual(new Set(['202 queued', '409 SALE_CANCELLED']));
    const late = all.filter((a) => a.answeredAt > returnedAt);
    expect(late.length).toBeGreaterThanOrEqual(20);
    expect(late.filter((a) => a.code !== 'SALE_CANCELLED')).toEqual([]);

    // Every admitted purchase ends confirmed, or rejected for the cancellation.
    const admitted = all.filter((a) => a.status === 202).map((a) => a.purchaseId!);
    expect(admitted.length).toBeGreaterThanOrEqual(FIRST);
    const rows = await waitFor(
      async () => {
        const r = await db('purchases').whereIn('id', admitted).select('id', 'status', 'reason');
        return r.length === admitted.length ? r : undefined;
      },
      'every admitted purchase decided',
      30_000,
    );
    const outcomes = rows.map((r: { status: string; reason: string | null }) => `${r.status} ${r.reason ?? ''}`.trim());
    expect(new Set(outcomes)).toEqual(new Set(['confirmed', 'rejected SALE_CANCELLED']));
    const confirmed = outcomes.filter((o) => o === 'confirmed').length;
    const rejected = outcomes.length - confirmed;

    // The report: its confirmed orders are final (counted under the sale's lock), its queued ones are the rejections.
    const orders = await db('orders').where({ sale_id: saleId });
    expect(orders).toHaveLength(confirmed);
    expect(cancel.body.confirmedOrders).toBe(confirmed);
    expect(cancel.body.unitsSold).toBe(confirmed);
    expect(cancel.body.queuedAtCancel).toBe(rejected);

    // The stores agree at quiescence: rejected purchases gave their units back in Redis.
    const inv = await db('sale_inventory').where({ sale_id: saleId }).first();
    expect(confirmed + inv.remaining).toBe(stock);
    await waitFor(async () => (Number(await redis.get(keys.sale(saleId).remaining)) === inv.remaining ? true : undefined), 'Redis remaining == PostgreSQL remaining');

    const publicView = await call(base, 'GET', `/api/sales/${saleId}`);
    expect(publicView.body).toMatchObject({ status: 'cancelled', remaining: inv.remaining });
    const again = await call(base, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: admin });
    expect(again.body).toMatchObject({
      confirmedOrders: cancel.body.confirmedOrders,
      unitsSold: cancel.body.unitsSold,
      queuedAtCancel: cancel.body.queuedAtCancel,
      cancelledAt: cancel.body.cancelledAt,
    });
  });
});
