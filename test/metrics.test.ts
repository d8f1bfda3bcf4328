import { io as connect, Socket } from 'socket.io-client';
import { call, createSale, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';
import { moved, Scrape, scrape, value } from './support/prometheus';
import { shardOf } from '../src/modules/purchases/queue';

/**
 * Issue 14, item 1: Prometheus metrics on every API and worker process, scraped over HTTP
 * before and after a small burst; the counters and histograms must move by exactly what the
 * burst did.
 */
describe('Prometheus metrics', () => {
  let stack: Stack;
  let apiMetrics: string;
  let workerMetrics: string;
  beforeAll(async () => {
    stack = await startStack(testConfig());
    apiMetrics = stack.api.metricsUrl;
    workerMetrics = stack.worker!.metricsUrl;
  });
  afterAll(async () => stack?.stop());

  const attempt = (saleId: string, user: string | null, headers: Record<string, string> = {}) =>
    call(stack.api.url, 'POST', `/api/sales/${saleId}/purchases`, { ...(user ? { token: shopperToken(user) } : {}), body: { quantity: 1 }, headers });

  /** Scrapes until `check` holds (a response's counters move at its 'finish', a decision's after commit). */
  const scrapeUntil = (url: string, check: (s: Scrape) => boolean, what: string) =>
    waitFor(async () => {
      const s = await scrape(url);
      return check(s) ? s : undefined;
    }, what);

  it('When each process is scraped, then it answers on its own loopback port with Node defaults and only well-named flashsale_ metrics', async () => {
    for (const url of [apiMetrics, workerMetrics]) {
      expect(new URL(url).hostname).toBe('127.0.0.1');
      expect(new URL(url).port).not.toBe(new URL(stack.api.url).port);
      const s = await scrape(url);
      expect(s.types.get('process_cpu_user_seconds_total')).toBe('counter');
      expect(s.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');
      const ours = [...s.types].filter(([name]) => name.startsWith('flashsale_'));
      expect(ours.length).toBeGreaterThan(3);
      for (const [name, type] of ours) {
        expect(name).toMatch(/^flashsale_[a-z0-9_]+$/);
        expect(name).not.toMatch(/_(ms|milliseconds|millis)(_|$)/); // base units
        if (type === 'counter') expect(name).toMatch(/_total$/);
        else expect(name).not.toMatch(/_total$/);
      }
      // Both roles carry the webhook and dead-letter instruments (wired by their features).
      expect(s.types.get('flashsale_webhook_deliveries_total')).toBe('counter');
    }
    const api = await scrape(apiMetrics);
    for (const name of ['flashsale_purchase_attempts_total', 'flashsale_admission_duration_seconds', 'flashsale_payments_total', 'flashsale_socket_connections', 'flashsale_queue_jobs', 'flashsale_sale_drift_units', 'flashsale_dead_letters', 'flashsale_redis_aof_enabled', 'flashsale_redis_persistence_ok']) {
      expect([name, api.types.has(name)]).toEqual([name, true]);
    }
    const worker = await scrape(workerMetrics);
    for (const name of ['flashsale_purchases_decided_total', 'flashsale_decision_seconds', 'flashsale_group_commit_batch_size', 'flashsale_hold_expiries_total']) {
      expect([name, worker.types.has(name)]).toEqual([name, true]);
    }
    // Every shard of both queues is reported, and the dead-letter gauge has its purchase source.
    expect(value(api, 'flashsale_queue_jobs', { queue: 'purchases', shard: '0', state: 'waiting' })).toBeGreaterThanOrEqual(0);
    expect(api.samples.filter((x) => x.name === 'flashsale_queue_jobs' && x.labels.queue === 'holds').length).toBe(4 * stack.config.queueShards);
    expect(api.samples.some((x) => x.name === 'flashsale_dead_letters' && x.labels.kind === 'purchase')).toBe(true);

    const notMetrics = await fetch(apiMetrics.replace(/\/metrics$/, '/other'));
    expect(notMetrics.status).toBe(404);
  });

  it('When a burst is admitted, refused and decided, then attempts, latency, decisions, batch sizes and 202-to-decision times move by exactly that', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 5, perUserLimit: 1 });
    const apiBefore = await scrape(apiMetrics);
    const workerBefore = await scrape(workerMetrics);

    // Through Express: 5 admitted, 1 over the per-user limit, 2 keyed attempts refused by the gate, 1 without a token.
    const first = await attempt(saleId, 'm-1');
    expect(first.status).toBe(202);
    expect((await attempt(saleId, 'm-1')).body.error.code).toBe('LIMIT_EXCEEDED');
    const rest = await Promise.all(['m-2', 'm-3', 'm-4', 'm-5'].map((u) => attempt(saleId, u)));
    expect(rest.map((r) => r.status)).toEqual([202, 202, 202, 202]);
    for (const u of ['m-6', 'm-7']) expect((await attempt(saleId, u, { 'Idempotency-Key': `k-${u}` })).body.error.code).toBe('SOLD_OUT');
    expect((await attempt(saleId, null)).status).toBe(401);
    // Before Express: the sold-out lane answers unkeyed attempts on a sale this process knows is sold out.
    stack.api.deps.soldOut.markSoldOut(saleId, Date.now() + 60_000);
    for (const u of ['m-8', 'm-9', 'm-10']) expect((await attempt(saleId, u)).body.error.code).toBe('SOLD_OUT');
    stack.api.deps.soldOut.forget(saleId);

    const apiAfter = await scrapeUntil(apiMetrics, (s) => moved(apiBefore, s, 'flashsale_admission_duration_seconds_count') >= 9, 'the attempts to be counted');
    const attempts = (outcome: string) => moved(apiBefore, apiAfter, 'flashsale_purchase_attempts_total', { outcome });
    expect({ admitted: attempts('admitted'), LIMIT_EXCEEDED: attempts('LIMIT_EXCEEDED'), SOLD_OUT: attempts('SOLD_OUT'), UNAUTHENTICATED: attempts('UNAUTHENTICATED') }).toEqual({
      admitted: 5,
      LIMIT_EXCEEDED: 1,
      SOLD_OUT: 5,
      UNAUTHENTICATED: 1,
    });
    expect(moved(apiBefore, apiAfter, 'flashsale_purchase_attempts_total')).toBe(12);
    // Timed: the 9 that Express answered (the lane's 3 are counted, not timed).
    expect(moved(apiBefore, apiAfter, 'flashsale_admission_duration_seconds_count')).toBe(9);
    expect(moved(apiBefore, apiAfter, 'flashsale_admission_duration_seconds_bucket', { le: '+Inf' })).toBe(9);
    expect(moved(apiBefore, apiAfter, 'flashsale_admission_duration_seconds_sum')).toBeGreaterThan(0);

    // The worker decides the 5 admitted purchases: counted, their batches observed, each 202-to-decision timed.
    const workerAfter = await scrapeUntil(workerMetrics, (s) => moved(workerBefore, s, 'flashsale_purchases_decided_total') >= 5, 'the 5 decisions');
    expect(moved(workerBefore, workerAfter, 'flashsale_purchases_decided_total', { status: 'confirmed' })).toBe(5);
    expect(moved(workerBefore, workerAfter, 'flashsale_purchases_decided_total', { status: 'rejected' })).toBe(0);
    expect(moved(workerBefore, workerAfter, 'flashsale_decision_seconds_count')).toBe(5);
    expect(moved(workerBefore, workerAfter, 'flashsale_group_commit_batch_size_sum')).toBe(5);
    const batches = moved(workerBefore, workerAfter, 'flashsale_group_commit_batch_size_count');
    expect(batches).toBeGreaterThanOrEqual(1);
    expect(batches).toBeLessThanOrEqual(5);

    // At quiescence the gate agrees with PostgreSQL: drift 0, nothing pending.
    const settled = await scrapeUntil(apiMetrics, (s) => value(s, 'flashsale_sale_pending_units', { sale_id: saleId }) === 0, 'the sale to settle');
    expect(settled.samples.find((x) => x.name === 'flashsale_sale_drift_units' && x.labels.sale_id === saleId)?.value).toBe(0);

    // Payments by result: one approved, one declined.
    const paid = await call(stack.api.url, 'POST', `/api/purchases/${first.body.purchaseId}/pay`, { token: shopperToken('m-1'), body: { paymentToken: 'tok_approve' } });
    expect(paid.status).toBe(200);
    const declined = await call(stack.api.url, 'POST', `/api/purchases/${rest[0]!.body.purchaseId}/pay`, { token: shopperToken('m-2'), body: { paymentToken: 'tok_decline' } });
    expect(declined.body.error.code).toBe('PAYMENT_DECLINED');
    const apiPaid = await scrapeUntil(apiMetrics, (s) => moved(apiAfter, s, 'flashsale_payments_total') >= 2, 'the payments to be counted');
    expect(moved(apiAfter, apiPaid, 'flashsale_payments_total', { result: 'paid' })).toBe(1);
    expect(moved(apiAfter, apiPaid, 'flashsale_payments_total', { result: 'PAYMENT_DECLINED' })).toBe(1);
  });

  it('When a drift is planted, then its gauge shows it; when a hold runs out, then the expiry is counted', async () => {
    const { saleId } = await createSale(stack.api.url, { stock: 3, perUserLimit: 1, holdSeconds: 1 });
    const before = await scrape(workerMetrics);
    expect((await attempt(saleId, 'exp-1')).status).toBe(202);
    await scrapeUntil(workerMetrics, (s) => moved(before, s, 'flashsale_hold_expiries_total') === 1, 'the hold to expire');

    // PostgreSQL loses a unit the gate still has: the gate is one ahead.
    await stack.api.deps.db('sale_inventory').where({ sale_id: saleId }).decrement('remaining', 1);
    await scrapeUntil(apiMetrics, (s) => value(s, 'flashsale_sale_drift_units', { sale_id: saleId }) === 1, 'the planted drift to show');

    // Two units the gate counts as admitted and not decided: the sale's pending units and its
    // queue shard's backlog both show them (planted: a live worker would decide real ones at once).
    const shard = String(shardOf(saleId, stack.config.queueShards));
    const beforeBacklog = await scrape(apiMetrics);
    await stack.api.deps.redis.hincrby(stack.api.deps.keys.sale(saleId).stats, 'admittedUnits', 2);
    const withBacklog = await scrapeUntil(apiMetrics, (s) => value(s, 'flashsale_sale_pending_units', { sale_id: saleId }) === 2, 'the planted backlog to show');
    expect(moved(beforeBacklog, withBacklog, 'flashsale_queue_backlog_units', { shard })).toBe(2);
  });

  it('When a socket connects, then the connection gauge counts it, and not after it leaves', async () => {
    const socket: Socket = connect(stack.api.url, { auth: { token: shopperToken('sock-1') }, transports: ['websocket'], reconnection: false });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
      await scrapeUntil(apiMetrics, (s) => value(s, 'flashsale_socket_connections') === 1, 'one socket');
    } finally {
      socket.close();
    }
    await scrapeUntil(apiMetrics, (s) => value(s, 'flashsale_socket_connections') === 0, 'no socket');
  });
});
