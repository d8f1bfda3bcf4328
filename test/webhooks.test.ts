import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { pruneEvents } from '../src/modules/webhooks/scheduler';
import { testEnv } from './env';
import { adminToken, call, createSale, killed, shopperToken, spawnWorker, Stack, startStack, testConfig, waitFor } from './helpers';
import { startReceiver } from './support/webhook-receiver';
import { moved, scrape, value } from './support/prometheus';

/** The README's signature check, exactly as documented (the block after the marker). */
function readmeVerifier(): (secret: string, rawBody: string, header: string) => boolean {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const marker = '<!-- webhook-verify: test/webhooks.test.ts runs the next block -->';
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf(marker)));
  if (readme.indexOf(marker) < 0 || !block) throw new Error('README signature snippet not found');
  return new Function('require', `${block[1]}\nreturn verifyWebhook;`)(require);
}

// Small retry delays so a test sees several attempts in a second or two.
const WEBHOOK_ENV = {
  WEBHOOK_BACKOFF_MS: '50',
  WEBHOOK_BACKOFF_MAX_MS: '200',
  WEBHOOK_ATTEMPTS: '4',
  WEBHOOK_RELAY_MS: '50',
  WEBHOOK_SCHEDULER_MS: '100',
  WEBHOOK_TIMEOUT_MS: '2000',
};

async function register(stack: Stack, body: Record<string, unknown>) {
  const r = await call(stack.api.url, 'POST', '/api/admin/webhooks', { token: adminToken(), body });
  expect(r.status).toBe(201);
  return r.body as { id: string; secret: string; url: string; eventTypes: string[] };
}

async function buy(stack: Stack, saleId: string, user: string) {
  const token = shopperToken(user);
  const r = await call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });
  expect(r.status).toBe(202);
  const final = await waitFor(async () => {
    const s = await call(stack.api.url, 'GET', r.body.statusUrl, { token });
    return s.body.status === 'queued' ? undefined : s.body;
  }, `purchase of ${user} decided`);
  return { token, purchaseId: r.body.purchaseId as string, final };
}

/** Sales whose start or end the scheduler has not recorded yet (earlier test files leave many). */
async function lifecycleBacklog(stack: Stack): Promise<number> {
  const { rows } = await stack.api.deps.db.raw(
    `SELECT count(*)::int AS n FROM sales WHERE cancelled_at IS NULL AND ((started_notified_at IS NULL AND starts_at <= now()) OR (ended_notified_at IS NULL AND ends_at <= now()))`,
  );
  return rows[0].n;
}

describe('Webhooks', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack(testConfig({ ...WEBHOOK_ENV, WORKER_ATTEMPTS: '1', WORKER_BACKOFF_MS: '10' }));
    // Endpoints an earlier run left behind would get this run's events.
    await stack.api.deps.db('webhook_endpoints').whereNull('deleted_at').update({ deleted_at: stack.api.deps.db.fn.now() });
    // Announce what earlier test files left unannounced before any endpoint listens.
    await waitFor(async () => ((await lifecycleBacklog(stack)) === 0 ? true : undefined), 'the lifecycle backlog to drain', 30_000, 100);
  });
  afterAll(async () => {
    await stack.api.deps.db('webhook_endpoints').whereNull('deleted_at').update({ deleted_at: stack.api.deps.db.fn.now() });
    await stack.stop();
  });

  it('When an endpoint subscribes to everything, then it receives every event type once, each with a valid signature', async () => {
    const receiver = await startReceiver();
    const verify = readmeVerifier();
    const endpoint = await register(stack, { url: receiver.url, description: 'all events' });
    try {
      expect(endpoint.secret).toMatch(/^whsec_/);
      expect(endpoint.eventTypes).toHaveLength(10);
      const listed = await call(stack.api.url, 'GET', '/api/admin/webhooks', { token: adminToken() });
      expect(listed.body.items.find((e: { id: string }) => e.id === endpoint.id)).toEqual({
        id: endpoint.id,
        url: receiver.url,
        eventTypes: endpoint.eventTypes,
        description: 'all events',
        createdAt: expect.any(String),
      });

      // Sale A: three units, low stock at 1, ends in a few seconds.
      const { saleId: a } = await createSale(stack.api.url, { stock: 3, endsAt: new Date(Date.now() + 10_000).toISOString() });
      const patched = await call(stack.api.url, 'PATCH', `/api/admin/sales/${a}`, { token: adminToken(), body: { lowStockThreshold: 1 } });
      expect(patched.body.lowStockThreshold).toBe(1);
      const [p1, p2] = [await buy(stack, a, `wa1-${a}`), await buy(stack, a, `wa2-${a}`)];
      await buy(stack, a, `wa3-${a}`);
      expect((await call(stack.api.url, 'POST', `/api/purchases/${p1.purchaseId}/pay`, { token: p1.token, body: { paymentToken: 'tok_approve' } })).status).toBe(200);
      expect((await call(stack.api.url, 'POST', `/api/purchases/${p2.purchaseId}/cancel`, { token: p2.token })).status).toBe(200);

      // Sale B: a one-second hold that expires, a purchase the worker cannot write (PROCESSING_FAILED), then a cancel.
      const { saleId: b } = await createSale(stack.api.url, { stock: 5, holdSeconds: 1 });
      const expired = await buy(stack, b, `wb1-${b}`);
      const db = stack.api.deps.db;
      const fn = `fail_${b.slice(0, 8)}`;
      await db.raw(`CREATE FUNCTION ${fn}() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$ LANGUAGE plpgsql`);
      await db.raw(`CREATE TRIGGER ${fn} BEFORE INSERT ON orders FOR EACH ROW WHEN (NEW.sale_id = '${b}') EXECUTE FUNCTION ${fn}()`);
      try {
        const rejected = await buy(stack, b, `wb2-${b}`);
        expect(rejected.final).toMatchObject({ status: 'rejected', reason: 'PROCESSING_FAILED' });
      } finally {
        await db.raw(`DROP TRIGGER IF EXISTS ${fn} ON orders`);
        await db.raw(`DROP FUNCTION IF EXISTS ${fn}()`);
      }
      await waitFor(async () => ((await call(stack.api.url, 'GET', `/api/purchases/${expired.purchaseId}`, { token: expired.token })).body.status === 'expired' ? true : undefined), 'the hold to expire');
      expect((await call(stack.api.url, 'POST', `/api/admin/sales/${b}/cancel`, { token: adminToken() })).status).toBe(200);

      const ours = () => receiver.accepted().filter((r) => [a, b].includes(r.event.data.saleId));
      const expected = [
        'purchase.cancelled',
        'purchase.confirmed',
        'purchase.expired',
        'purchase.paid',
        'purchase.rejected',
        'sale.cancelled',
        'sale.ended',
        'sale.low_stock',
        'sale.sold_out',
        'sale.started',
      ];
      await waitFor(async () => (new Set(ours().map((r) => r.type)).size === expected.length ? true : undefined), 'every event type', 30_000, 100);
      // Let anything late arrive, then count.
      await waitFor(async () => ((await db('webhook_deliveries').where({ endpoint_id: endpoint.id }).whereIn('status', ['pending', 'relayed']).count({ n: '*' }))[0]!.n === '0' ? true : undefined), 'no delivery in flight');
      const got = ours();
      expect([...new Set(got.map((r) => r.type))].sort()).toEqual(expected);

      // Each event arrived once, signed with the endpoint's secret, its headers matching its body.
      expect(new Set(got.map((r) => r.eventId)).size).toBe(got.length);
      for (const r of got) {
        expect(verify(endpoint.secret, r.body, r.signature)).toBe(true);
        expect(verify('whsec_not-the-secret', r.body, r.signature)).toBe(false);
        expect(r.eventId).toBe(r.event.id);
        expect(r.type).toBe(r.event.type);
        expect(Object.keys(r.event).sort()).toEqual(['createdAt', 'data', 'id', 'type']);
      }
      const count = (type: string, saleId: string) => got.filter((r) => r.type === type && r.event.data.saleId === saleId).length;
      // Per sale, the lifecycle and stock events happened once each (sale B never sold out: 5 units).
      expect([count('sale.started', a), count('sale.ended', a), count('sale.low_stock', a), count('sale.sold_out', a)]).toEqual([1, 1, 1, 1]);
      expect([count('sale.started', b), count('sale.cancelled', b), count('sale.ended', b)]).toEqual([1, 1, 0]);
      expect(count('purchase.confirmed', a)).toBe(3);
      const paid = got.find((r) => r.type === 'purchase.paid')!.event.data;
      expect(paid).toMatchObject({ purchaseId: p1.purchaseId, saleId: a, userId: `wa1-${a}`, quantity: 1, status: 'paid', orderId: p1.final.orderId });
      expect(got.find((r) => r.type === 'purchase.rejected')!.event.data).toMatchObject({ saleId: b, userId: `wb2-${b}`, status: 'rejected', reason: 'PROCESSING_FAILED' });
    } finally {
      await call(stack.api.url, 'DELETE', `/api/admin/webhooks/${endpoint.id}`, { token: adminToken() });
      await receiver.stop();
    }
  });

  it('When an endpoint is registered badly or by a shopper, then it is refused and nothing is stored', async () => {
    const bad = async (body: unknown) => (await call(stack.api.url, 'POST', '/api/admin/webhooks', { token: adminToken(), body })).body.error.code;
    expect(await bad({ url: 'ftp://example.com/x' })).toBe('VALIDATION_FAILED');
    expect(await bad({ url: 'not a url' })).toBe('VALIDATION_FAILED');
    expect(await bad({ url: 'https://example.com/x', eventTypes: ['sale.exploded'] })).toBe('VALIDATION_FAILED');
    expect(await bad({ url: 'https://example.com/x', eventTypes: [] })).toBe('VALIDATION_FAILED');
    expect(await bad({ url: 'https://example.com/x', eventTypes: ['sale.ended', 'sale.ended'] })).toBe('VALIDATION_FAILED');
    expect(await bad({ url: 'https://example.com/x', secret: 'short' })).toBe('VALIDATION_FAILED');
    expect(await bad({ url: 'https://example.com/x', active: true })).toBe('VALIDATION_FAILED');
    const shopper = await call(stack.api.url, 'POST', '/api/admin/webhooks', { token: shopperToken('nosy'), body: { url: 'https://example.com/x' } });
    expect(shopper.status).toBe(403);
    expect((await call(stack.api.url, 'GET', '/api/admin/webhooks')).status).toBe(401);
    const missing = await call(stack.api.url, 'DELETE', '/api/admin/webhooks/7d0c7a3e-2222-4000-8000-000000000000', { token: adminToken() });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'WEBHOOK_NOT_FOUND']);
    expect((await call(stack.api.url, 'DELETE', '/api/admin/webhooks/nope', { token: adminToken() })).status).toBe(404);

    // A secret of one's own is kept (and answered once); deleting twice is a 404 the second time.
    const own = await register(stack, { url: 'https://example.com/own', secret: 'my-own-secret-0123456789', eventTypes: ['sale.ended'] });
    expect(own.secret).toBe('my-own-secret-0123456789');
    const page = await call(stack.api.url, 'GET', '/api/admin/webhooks?limit=100', { token: adminToken() });
    expect(JSON.stringify(page.body)).not.toContain('my-own-secret');
    expect((await call(stack.api.url, 'DELETE', `/api/admin/webhooks/${own.id}`, { token: adminToken() })).status).toBe(200);
    expect((await call(stack.api.url, 'DELETE', `/api/admin/webhooks/${own.id}`, { token: adminToken() })).status).toBe(404);
  });

  it('When a receiver fails twice and then answers 200, then the event arrives on the third attempt, the same bytes each time', async () => {
    const receiver = await startReceiver((_event, seenBefore) => (seenBefore < 2 ? 500 : 204));
    const endpoint = await register(stack, { url: receiver.url, eventTypes: ['sale.cancelled'] });
    try {
      const { saleId } = await createSale(stack.api.url);
      await call(stack.api.url, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: adminToken() });
      const mine = () => receiver.received.filter((r) => r.event.data.saleId === saleId);
      await waitFor(async () => (mine().some((r) => r.answered === 204) ? true : undefined), 'the delivery to succeed');
      expect(mine().map((r) => r.answered)).toEqual([500, 500, 204]);
      expect(new Set(mine().map((r) => r.body)).size).toBe(1);
      const row = await stack.api.deps.db('webhook_deliveries').where({ endpoint_id: endpoint.id }).first();
      expect(row).toMatchObject({ status: 'delivered', attempts: 3, last_error: 'HTTP 500' });
    } finally {
      await call(stack.api.url, 'DELETE', `/api/admin/webhooks/${endpoint.id}`, { token: adminToken() });
      await receiver.stop();
    }
  });

  it('When a receiver always fails, then the delivery ends in the dead letters, and a replay after the fix delivers it', async () => {
    let healthy = false;
    const receiver = await startReceiver(() => (healthy ? 200 : 503));
    const endpoint = await register(stack, { url: receiver.url, eventTypes: ['sale.cancelled'] });
    try {
      const [workerBefore, apiBefore] = await Promise.all([scrape(stack.worker!.metricsUrl), scrape(stack.api.metricsUrl)]);
      const { saleId } = await createSale(stack.api.url);
      await call(stack.api.url, 'POST', `/api/admin/sales/${saleId}/cancel`, { token: adminToken() });
      const delivery = await waitFor(
        () => stack.api.deps.db('webhook_deliveries').where({ endpoint_id: endpoint.id, status: 'dead' }).first(),
        'the delivery to die',
      );
      expect(receiver.received).toHaveLength(4); // WEBHOOK_ATTEMPTS
      // The metrics saw it: three failed attempts and one dead, and one more open dead letter.
      const [workerAfter, apiAfter] = await Promise.all([scrape(stack.worker!.metricsUrl), scrape(stack.api.metricsUrl)]);
      expect(moved(workerBefore, workerAfter, 'flashsale_webhook_deliveries_total', { result: 'failed' })).toBe(3);
      expect(moved(workerBefore, workerAfter, 'flashsale_webhook_deliveries_total', { result: 'dead' })).toBe(1);
      expect(moved(apiBefore, apiAfter, 'flashsale_dead_letters', { kind: 'webhook' })).toBe(1);
      const listed = await call(stack.api.url, 'GET', '/api/admin/dead-letters?kind=webhook&limit=100', { token: adminToken() });
      expect(listed.status).toBe(200);
      expect(listed.body.items.find((d: { id: string }) => d.id === delivery.id)).toMatchObject({
        kind: 'webhook',
        attempts: 4,
        lastError: 'HTTP 503',
        replays: 0,
        webhook: { eventType: 'sale.cancelled', endpointId: endpoint.id, url: receiver.url },
      });

      healthy = true;
      const replay = await call(stack.api.url, 'POST', `/api/admin/dead-letters/${delivery.id}/replay`, { token: adminToken() });
      expect(replay.status).toBe(202);
      expect(replay.body).toMatchObject({ id: delivery.id, kind: 'webhook', replayed: true, replays: 1 });
      await waitFor(async () => (receiver.accepted().length === 1 ? true : undefined), 'the replayed delivery');
      // The same event (receivers deduplicate on its id), now delivered; it left the dead letters.
      expect(new Set(receiver.received.map((r) => r.eventId)).size).toBe(1);
      await waitFor(async () => ((await stack.api.deps.db('webhook_deliveries').where({ id: delivery.id }).first()).status === 'delivered' ? true : undefined), 'delivered');
      expect(value(await scrape(stack.worker!.metricsUrl), 'flashsale_webhook_deliveries_total', { result: 'delivered' }) - value(workerBefore, 'flashsale_webhook_deliveries_total', { result: 'delivered' })).toBe(1);
      expect(value(await scrape(stack.api.metricsUrl), 'flashsale_dead_letters', { kind: 'webhook' })).toBe(value(apiBefore, 'flashsale_dead_letters', { kind: 'webhook' }));
      const after = await call(stack.api.url, 'GET', '/api/admin/dead-letters?kind=webhook&limit=100', { token: adminToken() });
      expect(after.body.items.some((d: { id: string }) => d.id === delivery.id)).toBe(false);
      const again = await call(stack.api.url, 'POST', `/api/admin/dead-letters/${delivery.id}/replay`, { token: adminToken() });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ replayed: false, status: 'delivered' });
      expect((await call(stack.api.url, 'POST', '/api/admin/dead-letters/00000000-0000-4000-8000-000000000000/replay', { token: adminToken() })).body.error.code).toBe('DEAD_LETTER_NOT_FOUND');
    } finally {
      await call(stack.api.url, 'DELETE', `/api/admin/webhooks/${endpoint.id}`, { token: adminToken() });
      await receiver.stop();
    }
  });

  it('When events are older than the retention, then those whose deliveries finished are pruned and dead letters are kept', async () => {
    const db = stack.api.deps.db;
    // Rows made directly (a removed endpoint, finished deliveries): nothing for the relay to pick up.
    const endpointId = randomUUID();
    await db('webhook_endpoints').insert({ id: endpointId, url: 'https://example.com/old', secret: 'whsec_old-secret-0000', event_types: ['sale.ended'], deleted_at: db.fn.now() });
    const [delivered, dead, recent] = [randomUUID(), randomUUID(), randomUUID()];
    const old = db.raw(`now() - interval '31 days'`);
    await db('webhook_events').insert([
      { id: delivered, type: 'sale.ended', data: '{}', created_at: old },
      { id: dead, type: 'sale.ended', data: '{}', created_at: old },
      { id: recent, type: 'sale.ended', data: '{}' },
    ]);
    await db('webhook_deliveries').insert([
      { id: randomUUID(), event_id: delivered, endpoint_id: endpointId, status: 'delivered' },
      { id: randomUUID(), event_id: dead, endpoint_id: endpointId, status: 'dead' },
      { id: randomUUID(), event_id: recent, endpoint_id: endpointId, status: 'delivered' },
    ]);
    expect(await pruneEvents(db, 30)).toBeGreaterThanOrEqual(1);
    const left = await db('webhook_events').whereIn('id', [delivered, dead, recent]).pluck('id');
    expect(left.sort()).toEqual([dead, recent].sort());
    expect(await db('webhook_deliveries').where({ endpoint_id: endpointId }).count({ n: '*' })).toEqual([{ n: '2' }]);
  });

  it('When stock falls past the threshold, comes back above it and falls again, then low stock fires once per crossing', async () => {
    const receiver = await startReceiver();
    const endpoint = await register(stack, { url: receiver.url, eventTypes: ['sale.low_stock'] });
    try {
      const { saleId } = await createSale(stack.api.url, { stock: 10 });
      await call(stack.api.url, 'PATCH', `/api/admin/sales/${saleId}`, { token: adminToken(), body: { lowStockThreshold: 3 } });
      const bought = [];
      for (let i = 0; i < 8; i++) bought.push(await buy(stack, saleId, `ls${i}-${saleId}`)); // 10 -> 2: one crossing
      const events = () => stack.api.deps.db('webhook_events').where({ type: 'sale.low_stock' }).whereRaw(`data->>'saleId' = ?`, [saleId]).orderBy('created_at').select('data');
      expect(await events()).toHaveLength(1);
      for (const p of bought.slice(0, 2)) await call(stack.api.url, 'POST', `/api/purchases/${p.purchaseId}/cancel`, { token: p.token }); // back to 4: above
      expect(await events()).toHaveLength(1);
      await buy(stack, saleId, `ls8-${saleId}`); // 3: the second crossing
      await buy(stack, saleId, `ls9-${saleId}`); // 2: still low, nothing new
      expect((await events()).map((e) => e.data.remaining)).toEqual([3, 3]);
      await waitFor(async () => (receiver.accepted().length === 2 ? true : undefined), 'both low-stock deliveries');
      expect(receiver.accepted().map((r) => r.event.data)).toEqual([
        { saleId, name: expect.any(String), stock: 10, remaining: 3, lowStockThreshold: 3 },
        { saleId, name: expect.any(String), stock: 10, remaining: 3, lowStockThreshold: 3 },
      ]);
    } finally {
      await call(stack.api.url, 'DELETE', `/api/admin/webhooks/${endpoint.id}`, { token: adminToken() });
      await receiver.stop();
    }
  });
});

describe('When the worker is killed between the commit and the delivery', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig(WEBHOOK_ENV), { worker: false });
  });
  afterAll(async () => {
    await stack.api.deps.db('webhook_endpoints').whereNull('deleted_at').update({ deleted_at: stack.api.deps.db.fn.now() });
    await stack.stop();
  });

  it('then the event is still delivered by the next worker (the outbox row committed with the purchase)', async () => {
    const receiver = await startReceiver();
    const endpoint = await register(stack, { url: receiver.url, eventTypes: ['purchase.confirmed'] });
    const env = testEnv({ ...WEBHOOK_ENV, QUEUE_NAME: stack.config.queueName });
    // This worker decides purchases but its relay never runs: the state right after a commit.
    const victim = await spawnWorker({ ...env, FAULT_WEBHOOK_RELAY_PAUSED: 'true' });
    let next: Awaited<ReturnType<typeof spawnWorker>> | undefined;
    try {
      const { saleId } = await createSale(stack.api.url);
      const { purchaseId, final } = await buy(stack, saleId, `k-${saleId}`);
      expect(final.status).toBe('confirmed');
      const pending = await stack.api.deps.db('webhook_deliveries as d')
        .join('webhook_events as e', 'e.id', 'd.event_id')
        .where({ 'd.endpoint_id': endpoint.id })
        .whereRaw(`e.data->>'purchaseId' = ?`, [purchaseId])
        .select('d.status');
      expect(pending).toEqual([{ status: 'pending' }]);
      expect(receiver.received).toHaveLength(0);

      victim.kill('SIGKILL');
      await killed(victim);
      next = await spawnWorker(env);
      await waitFor(async () => (receiver.accepted().length > 0 ? true : undefined), 'the event after the restart');
      expect(receiver.accepted().map((r) => r.event.data.purchaseId)).toEqual([purchaseId]);
    } finally {
      victim.kill('SIGKILL');
      if (next) {
        next.kill('SIGTERM');
        await killed(next);
      }
      await receiver.stop();
    }
  });
});
