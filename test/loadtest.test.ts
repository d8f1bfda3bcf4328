import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseLoadtestArgs, UsageError } from '../tools/loadtest/args';
import { overTime } from '../tools/loadtest/report';
import { runLoadtest } from '../tools/loadtest/run';
import { CHECKS } from '../tools/loadtest/verdict';
import { TEST_JWT_SECRET } from './env';
import { adminToken, call, Stack, startStack, testConfig } from './helpers';

const OUT = path.join(__dirname, '..', 'artifacts', 'test-loadtest');
const PAGE = 100;

/** Every sale id of the shop's public GET /api/sales, page by page (bounded). */
async function publicSaleIds(base: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let offset = 0; offset < 100 * PAGE; offset += PAGE) {
    const r = await call(base, 'GET', `/api/sales?limit=${PAGE}&offset=${offset}`);
    expect(r.status).toBe(200);
    for (const sale of r.body.items) ids.add(sale.id);
    if (r.body.items.length < PAGE) return ids;
  }
  throw new Error(`GET /api/sales has more than ${100 * PAGE} sales: cannot tell whether one is listed`);
}

/** The points of the first over-time line (polyline) of an HTML report. */
function firstLinePoints(html: string): number {
  const m = /<svg class="chart"[^>]*aria-label="admissions and decisions[^"]*"[\s\S]*?<polyline[^>]*points="([^"]*)"/.exec(html);
  return m ? m[1]!.trim().split(/\s+/).length : 0;
}

describe('The load-test kit against a real engine', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => stack?.stop());

  it('When 300 shoppers make 600 attempts on a sale of 100, then exactly 100 are admitted, the audit passes and the reports are written', async () => {
    const outcome = await runLoadtest({
      url: stack.api.url,
      users: 300,
      stock: 100,
      perUserLimit: 1,
      connections: 20,
      mode: { kind: 'attempts', count: 600 },
      quantity: 1,
      out: OUT,
      drainTimeoutS: 60,
      jwtSecret: TEST_JWT_SECRET,
      quiet: true,
    });

    expect(outcome.verdict.checks.filter((c) => !c.ok)).toEqual([]);
    expect(outcome.ok).toBe(true);
    const h = outcome.result.hammer;
    expect(h.attemptsSent).toBe(600);
    expect(h.responses).toBe(600);
    expect(h.statusCounts['202']).toBe(100);
    expect(h.statusCounts['409']).toBe(500);
    expect(h.refusals).toEqual({ SOLD_OUT: 500 });
    expect(h.latencyHistogram.reduce((n, b) => n + b.count, 0)).toBe(600);
    expect(outcome.result.finals).toMatchObject({ confirmed: 100, queued: 0, notFound: 0 });
    // The verdict's audit was read before settling: 100 held, none sold yet.
    expect(outcome.result.audit).toMatchObject({
      orders: { count: 100, units: 100 },
      holds: { held: 100, paid: 0 },
      units: { sold: 0, held: 100 },
      remaining: { redis: 0, postgres: 0 },
    });
    // Demand exceeded stock and nothing was rejected: the undersell check really ran.
    expect(outcome.verdict.checks.find((c) => c.name === CHECKS.undersell)!.skipped).toBeUndefined();

    for (const file of [outcome.resultPath, outcome.reportPath, path.join(OUT, 'latest.json'), path.join(OUT, 'latest.html')]) {
      expect(existsSync(file)).toBe(true);
    }
    const json = JSON.parse(readFileSync(outcome.resultPath, 'utf8'));
    expect(json.verdict.ok).toBe(true);
    expect(json.sale.id).toBe(outcome.result.sale.id);
    const html = readFileSync(outcome.reportPath, 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('PASS');
    // Self-contained: no scripts and nothing fetched from elsewhere.
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|src=|href=|url\(/i);

    // The sale stays out of the shop: not in the public list, yet reachable by id.
    const saleId = outcome.result.sale.id;
    expect(outcome.result.sale.listed).toBe(false);
    expect((await publicSaleIds(stack.api.url)).has(saleId)).toBe(false);
    const byId = await call(stack.api.url, 'GET', `/api/sales/${saleId}`);
    expect(byId.status).toBe(200);
    expect(byId.body).toMatchObject({ id: saleId, listed: false });

    // The default settle paid every confirmed purchase: no hold left, sold == units seen confirmed.
    expect(outcome.settle).toMatchObject({
      mode: 'pay',
      seen: { purchases: 100, units: 100 },
      settled: { purchases: 100, units: 100 },
      expired: { purchases: 0 },
      failed: { purchases: 0 },
      check: { ok: true },
    });
    const after = await call(stack.api.url, 'GET', `/api/admin/sales/${saleId}/audit`, { token: adminToken() });
    expect(after.status).toBe(200);
    expect(after.body.holds.held).toBe(0);
    expect(after.body.units.sold).toBe(outcome.result.finals.confirmed);
    expect(after.body.remaining).toEqual({ redis: 0, postgres: 0 });
    expect(json.settle.check.ok).toBe(true);
    expect(html).toMatch(/Settle: pay/);
  });

  it('When hammering for a duration, then it stops by itself without cutting an attempt off in flight', async () => {
    const started = Date.now();
    const outcome = await runLoadtest({
      url: stack.api.url,
      users: 40,
      stock: 1000,
      perUserLimit: 1,
      connections: 10,
      mode: { kind: 'duration', seconds: 2 },
      quantity: 1,
      out: OUT,
      drainTimeoutS: 30,
      jwtSecret: TEST_JWT_SECRET,
      quiet: true,
      settle: 'cancel',
    });
    const h = outcome.result.hammer;
    expect(h.durationS).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(h.attemptsSent).toBeGreaterThan(40);
    expect(h.responses).toBe(h.attemptsSent);
    expect(h.unanswered).toBe(0);
    // Demand (40 shoppers x 1) stayed under the stock: the rest are LIMIT_EXCEEDED, never SOLD_OUT.
    expect(h.statusCounts['202']).toBe(40);
    expect(Object.keys(h.refusals)).toEqual(['LIMIT_EXCEEDED']);
    expect(outcome.ok).toBe(true);
    expect(outcome.verdict.checks.find((c) => c.name === CHECKS.undersell)!.skipped).toBe(true);

    // A 2 s run is drawn in buckets well under a second: both sides share them, and the chart has dozens of points.
    const audit = outcome.result.audit;
    expect(h.timeline.bucketMs).toBeLessThanOrEqual(100);
    expect(audit.timeline.bucketMs).toBe(h.timeline.bucketMs);
    expect(h.timeline.points.length).toBeGreaterThanOrEqual(15);
    expect(overTime(outcome.result).buckets).toBeGreaterThanOrEqual(15);
    expect(firstLinePoints(readFileSync(outcome.reportPath, 'utf8'))).toBeGreaterThanOrEqual(15);

    // --settle cancel: every hold given back at once, Redis and PostgreSQL both at the whole stock.
    expect(outcome.settle).toMatchObject({ mode: 'cancel', settled: { purchases: 40, units: 40 }, failed: { purchases: 0 }, check: { ok: true } });
    expect(outcome.settle.after).toMatchObject({ held: 0, sold: 0, returned: 40, remaining: { redis: 1000, postgres: 1000 } });
  });

  it('When pointed at an existing (listed) sale, then its stock and limit come from the audit and the unseen-purchase check is skipped', async () => {
    const first = await runLoadtest({
      listed: true,
      url: stack.api.url,
      users: 20,
      stock: 10,
      perUserLimit: 1,
      connections: 5,
      mode: { kind: 'attempts', count: 5 },
      quantity: 1,
      out: OUT,
      drainTimeoutS: 30,
      jwtSecret: TEST_JWT_SECRET,
      quiet: true,
    });
    const again = await runLoadtest({
      url: stack.api.url,
      users: 20,
      stock: 999,
      perUserLimit: 9,
      connections: 5,
      mode: { kind: 'attempts', count: 20 },
      saleId: first.result.sale.id,
      quantity: 1,
      out: OUT,
      drainTimeoutS: 30,
      jwtSecret: TEST_JWT_SECRET,
      quiet: true,
      settle: 'leave',
    });
    // --listed: this one is in the shop (and the listing check above can see a listed sale).
    expect(first.result.sale.listed).toBe(true);
    expect((await publicSaleIds(stack.api.url)).has(first.result.sale.id)).toBe(true);
    expect(first.settle).toMatchObject({ mode: 'pay', settled: { purchases: 5 }, check: { ok: true } });
    expect(again.result.sale).toMatchObject({ id: first.result.sale.id, created: false, stock: 10, perUserLimit: 1, listed: true });
    expect(again.result.hammer.statusCounts['202']).toBe(5);
    expect(again.ok).toBe(true);
    expect(again.verdict.checks.find((c) => c.name === CHECKS.unseen)!.skipped).toBe(true);
    // --settle leave: nothing paid or cancelled; the holds stay until they expire.
    expect(again.settle).toMatchObject({ mode: 'leave', seen: { purchases: 5 }, settled: { purchases: 0 }, check: { ok: true, skipped: true } });
    expect(again.summary).toMatch(/expire \d+ s after/);
    const audit = await call(stack.api.url, 'GET', `/api/admin/sales/${first.result.sale.id}/audit`, { token: adminToken() });
    expect(audit.body).toMatchObject({ holds: { held: 5, paid: 5 }, units: { sold: 5, held: 5 } });
  });
});

describe('Load-test flags', () => {
  const usage = (argv: string[]) => () => parseLoadtestArgs(argv, { JWT_SECRET: TEST_JWT_SECRET });

  it('When no flags are given, then the defaults apply and tokens use JWT_SECRET', () => {
    const parsed = parseLoadtestArgs([], { JWT_SECRET: TEST_JWT_SECRET });
    expect(parsed).toEqual({
      help: false,
      options: {
        url: 'http://127.0.0.1:3000',
        users: 2000,
        stock: 1000,
        perUserLimit: 1,
        connections: 100,
        mode: { kind: 'attempts', count: 20000 },
        quantity: 1,
        out: 'artifacts/loadtest',
        drainTimeoutS: 120,
        jwtSecret: TEST_JWT_SECRET,
        listed: false,
        settle: 'pay',
      },
    });
  });

  it('When JWT_SECRET is unset, then the server’s development default signs the tokens', () => {
    const parsed = parseLoadtestArgs([], {});
    expect(parsed.help === false && parsed.options.jwtSecret.length).toBeGreaterThanOrEqual(16);
  });

  it('When --help is given, then help is asked for', () => {
    expect(parseLoadtestArgs(['--help'], {})).toEqual({ help: true });
  });

  it('When every flag is given, then each is read', () => {
    const parsed = parseLoadtestArgs(
      [
        ...['--url', 'http://localhost:3100/', '--users', '3000', '--stock', '50', '--per-user-limit', '2', '--quantity', '2', '--connections', '8'],
        ...['--duration', '30', '--out', '/tmp/x', '--drain-timeout', '9', '--listed', '--settle', 'cancel'],
      ],
      {},
    );
    expect(parsed.help === false && parsed.options).toMatchObject({
      url: 'http://localhost:3100',
      users: 3000,
      stock: 50,
      perUserLimit: 2,
      quantity: 2,
      connections: 8,
      mode: { kind: 'duration', seconds: 30 },
      out: '/tmp/x',
      drainTimeoutS: 9,
      listed: true,
      settle: 'cancel',
    });
  });

  it.each([
    ['http://127.0.0.1:3000'],
    ['http://127.1.2.3:8080'],
    ['http://localhost:3000'],
    ['http://[::1]:3000'],
    ['https://127.0.0.1'],
  ])('When --url is the loopback %s, then it is accepted', (url) => {
    expect(usage(['--url', url])).not.toThrow();
  });

  it.each([
    ['http://10.0.0.5:3000', /not loopback/],
    ['http://example.com', /not loopback/],
    ['http://0.0.0.0:3000', /not loopback/],
    ['http://[::2]:3000', /not loopback/],
    ['http://localhost.example.com', /not loopback/],
    ['ftp://127.0.0.1', /http or https/],
    ['not a url', /must be a URL/],
    ['http://127.0.0.1:3000/api', /without path/],
  ])('When --url is %s, then it is a usage error', (url, message) => {
    expect(usage(['--url', url])).toThrow(UsageError);
    expect(usage(['--url', url])).toThrow(message);
  });

  it.each([
    [['--duration', '10', '--attempts', '100'], /mutually exclusive/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--users'], /argument missing/],
    [['stray'], /positional/],
    [['--users', 'many'], /--users must be a whole number/],
    [['--users', '0'], /--users must be between 1/],
    [['--users', '-5'], /argument is ambiguous/],
    [['--users=-5'], /--users must be a whole number/],
    [['--stock', '1.5'], /--stock must be a whole number/],
    [['--duration', '301'], /--duration must be between 1 and 300/],
    [['--attempts', '2000001'], /--attempts must be between 1 and 2000000/],
    [['--per-user-limit', '5', '--stock', '4'], /must not exceed --stock/],
    [['--quantity', '2'], /must not exceed --per-user-limit/],
    [['--sale', 'not-a-uuid'], /--sale must be a sale id/],
    [['--sale', '00000000-0000-4000-8000-000000000000', '--stock', '5'], /read from that sale/],
    [['--out', ''], /--out must be a directory/],
    [['--settle', 'refund'], /--settle must be one of pay, cancel, leave/],
    [['--settle'], /argument missing/],
    [['--sale', '00000000-0000-4000-8000-000000000000', '--listed'], /--listed describes a sale to create/],
  ])('When the flags are %j, then it is a usage error', (argv, message) => {
    expect(usage(argv)).toThrow(UsageError);
    expect(usage(argv)).toThrow(message);
  });

  it('When NODE_ENV=production has no JWT_SECRET, then there is nothing to sign with: a usage error', () => {
    expect(() => parseLoadtestArgs([], { NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
  });
});
