/**
 * `npm run loadtest -- --waiting-room [options]`: a drop behind a waiting room, driven by
 * shoppers who join before the start, poll as told (never before pollAfterMs), buy with
 * their pass when their turn comes or abandon it at a set rate. The audit: no purchase
 * without a pass, no pass used twice, the order of service is the published draw then
 * arrival order (recomputed from the revealed seed, as `npm run verify-line` does), and the
 * ETA error (first prediction against the actual wait) as percentiles.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { signToken } from '../../src/modules/auth/tokens';
import { call, createSale, expectStatus } from '../client';
import { Place, verify } from '../verify-line';

export type LineRunOptions = {
  url: string;
  jwtSecret: string;
  joiners: number;
  stock: number;
  ratePerSecond: number;
  passSeconds: number;
  /** Share of shoppers who let their turn run out (0..1). */
  abandon: number;
  /** Seconds from the room's creation to the sale's start (everyone joins before it). */
  startInS: number;
  timeoutS: number;
  out: string;
  quiet?: boolean;
};

type Shopper = { id: string; token: string; placeId?: string; etaAt?: number; eta?: number; turnAt?: number; state?: string; bought?: boolean; abandoned?: boolean };

export type LineRunResult = {
  saleId: string;
  joiners: number;
  served: number;
  bought: number;
  abandoned: number;
  polls: number;
  audit: { purchasesWithoutPass: number; passesUsedTwice: number; orderProblems: string[]; servedOutOfOrder: number };
  etaErrorPct: { p50: number; p90: number; p99: number; samples: number };
  ok: boolean;
};

/** The answers this driver reads, loosely: a line state, an error, the commitment, a page of places. */
type Body = {
  placeId: string;
  state: string;
  etaSeconds: number | null;
  pollAfterMs: number;
  pass?: string;
  passExpiresAt: string;
  error?: { code: string };
  seed: string | null;
  seedHash: string;
  items: Place[];
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!);

/** Runs `tasks` with at most `limit` in flight. */
async function inPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

export async function runWaitingRoom(o: LineRunOptions): Promise<LineRunResult> {
  const log = (s: string) => (o.quiet ? undefined : process.stderr.write(`${s}\n`));
  const admin = signToken({ sub: 'loadtest-admin', role: 'admin' }, o.jwtSecret);
  const startsAt = Date.now() + o.startInS * 1000;
  const { saleId } = await createSale(o.url, admin, { name: `Line loadtest ${new Date().toISOString()}`, stock: o.stock, perUserLimit: 1, startsAt: new Date(startsAt).toISOString(), listed: false });
  expectStatus(
    await call(o.url, 'PUT', `/api/admin/sales/${saleId}/waiting-room`, {
      token: admin,
      body: { enabled: true, opensAt: new Date(Date.now() - 1000).toISOString(), admitPerSecond: o.ratePerSecond, passSeconds: o.passSeconds, margin: 0 },
    }),
    200,
    'PUT waiting-room',
  );
  log(`waiting room: sale ${saleId}, ${o.joiners} joiners, ${o.ratePerSecond}/s, passes ${o.passSeconds} s, abandon ${Math.round(o.abandon * 100)}%`);
  const run = saleId.slice(0, 8);
  const shoppers: Shopper[] = Array.from({ length: o.joiners }, (_, i) => {
    const id = `lt-line-${run}-${i}`;
    return { id, token: signToken({ sub: id }, o.jwtSecret, 3600) };
  });
  await inPool(shoppers, 50, async (s) => {
    const r = expectStatus(await call<Body>(o.url, 'POST', `/api/sales/${saleId}/line`, { token: s.token }), 201, 'POST line');
    s.placeId = r.body.placeId;
  });
  log(`joined: ${shoppers.length}; the sale starts in ${Math.max(0, Math.round((startsAt - Date.now()) / 1000))} s`);

  // One attempt without a pass, which must be refused.
  const passless = await call<Body>(o.url, 'POST', `/api/sales/${saleId}/purchases`, { token: shoppers[0]!.token, body: { quantity: 1 } });
  const purchasesWithoutPass = passless.status === 202 ? 1 : 0;
  let passesUsedTwice = 0;
  let polls = 0;
  const deadline = startsAt + o.timeoutS * 1000;
  const done = new Set(['passed', 'sold_out', 'closed']);

  await Promise.all(
    shoppers.map(async (s, i) => {
      // Each shopper polls as told, from a spread start.
      await sleep((i % 1000) * 2);
      while (Date.now() < deadline) {
        const r = await call<Body>(o.url, 'GET', `/api/sales/${saleId}/line`, { token: s.token }).catch(() => null);
        polls++;
        if (!r || r.status !== 200) {
          await sleep(1000);
          continue;
        }
        const b = r.body;
        s.state = b.state;
        if (b.state === 'waiting' && s.eta === undefined && b.etaSeconds !== null) {
          s.eta = b.etaSeconds;
          s.etaAt = Date.now();
        }
        if (b.state === 'your_turn' && s.turnAt === undefined) {
          s.turnAt = Date.parse(b.passExpiresAt) - o.passSeconds * 1000;
          if (Math.random() < o.abandon) {
            s.abandoned = true;
          } else {
            const buy = await call<Body>(o.url, 'POST', `/api/sales/${saleId}/purchases`, { token: s.token, body: { quantity: 1 }, headers: { 'sale-pass': b.pass ?? '' } });
            s.bought = buy.status === 202;
            // The same pass again: must never admit a second time.
            const again = await call<Body>(o.url, 'POST', `/api/sales/${saleId}/purchases`, { token: s.token, body: { quantity: 1 }, headers: { 'sale-pass': b.pass ?? '' } });
            if (again.status === 202) passesUsedTwice++;
            if (!s.bought && buy.body?.error?.code === 'SOLD_OUT') s.state = 'sold_out';
          }
        }
        if (s.state && done.has(s.state)) return;
        if (s.abandoned && s.state === 'your_turn') return;
        await sleep(Math.max(250, b.pollAfterMs ?? 1000));
      }
    }),
  );

  // The audit of the order: the revealed seed, the published order, and who got a turn when.
  const fairness = (await call<Body>(o.url, 'GET', `/api/sales/${saleId}/line/fairness`)).body;
  const places: Place[] = [];
  for (let offset = 0; ; offset += 5000) {
    const page = (await call<Body>(o.url, 'GET', `/api/sales/${saleId}/line/places?limit=5000&offset=${offset}`)).body;
    places.push(...page.items);
    if (page.items.length < 5000) break;
  }
  const orderProblems = verify(fairness, places);
  const position = new Map(places.map((p) => [p.placeId, p.position]));
  const served = shoppers.filter((s) => s.turnAt !== undefined).sort((a, b) => a.turnAt! - b.turnAt! || position.get(a.placeId!)! - position.get(b.placeId!)!);
  let servedOutOfOrder = 0;
  for (let i = 1; i < served.length; i++) if (position.get(served[i]!.placeId!)! < position.get(served[i - 1]!.placeId!)!) servedOutOfOrder++;
  const errors = shoppers
    .filter((s) => s.eta !== undefined && s.turnAt !== undefined && s.turnAt - s.etaAt! > 2000)
    .map((s) => (100 * Math.abs(s.eta! - (s.turnAt! - s.etaAt!) / 1000)) / ((s.turnAt! - s.etaAt!) / 1000))
    .sort((a, b) => a - b);
  const result: LineRunResult = {
    saleId,
    joiners: o.joiners,
    served: served.length,
    bought: shoppers.filter((s) => s.bought).length,
    abandoned: shoppers.filter((s) => s.abandoned).length,
    polls,
    audit: { purchasesWithoutPass, passesUsedTwice, orderProblems, servedOutOfOrder },
    etaErrorPct: { p50: pct(errors, 50), p90: pct(errors, 90), p99: pct(errors, 99), samples: errors.length },
    ok: purchasesWithoutPass === 0 && passesUsedTwice === 0 && orderProblems.length === 0 && servedOutOfOrder === 0,
  };
  fs.mkdirSync(o.out, { recursive: true });
  const file = path.join(o.out, `waiting-room-${run}.json`);
  fs.writeFileSync(file, JSON.stringify(result, null, 2));
  log(
    `${result.ok ? 'PASS' : 'FAIL'}: served ${result.served}, bought ${result.bought}, abandoned ${result.abandoned}, ${polls} polls; ` +
      `without a pass ${purchasesWithoutPass}, a pass twice ${passesUsedTwice}, order ${orderProblems.length === 0 && servedOutOfOrder === 0 ? 'the draw then arrivals' : `WRONG (${orderProblems.join('; ')}; ${servedOutOfOrder} out of order)`}; ` +
      `ETA error p50 ${result.etaErrorPct.p50.toFixed(1)}% p90 ${result.etaErrorPct.p90.toFixed(1)}% p99 ${result.etaErrorPct.p99.toFixed(1)}% (${errors.length} samples)\nresult: ${file}`,
  );
  return result;
}

export const WAITING_ROOM_USAGE = `Usage: npm run loadtest -- --waiting-room [options]

Creates a sale with a waiting room that starts in --start-in seconds; --joiners shoppers join
before the start, poll as told, buy with their pass (or abandon it, --abandon), then audits:
no purchase without a pass, no pass used twice, order of service = the published draw then
arrivals, ETA error percentiles. Start the engine with LINE_JOIN_IP_PER_MIN=0 (every joiner
comes from this machine). Exit 0 when the audit passes.

  --url <origin>       engine (default http://127.0.0.1:3000)
  --joiners <n>        shoppers in line (default 500)
  --stock <n>          units (default: joiners)
  --rate <n>           shoppers let through per second (default 50)
  --pass-seconds <n>   how long a turn lasts (default 10)
  --abandon <0..1>     share who let their turn run out (default 0.1)
  --start-in <s>       seconds to the start (default 5)
  --timeout <s>        give up this long after the start (default 120)
  --out <dir>          where the JSON result goes (default artifacts/loadtest)`;

export function parseWaitingRoomArgs(argv: string[], env: NodeJS.ProcessEnv): LineRunOptions {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--waiting-room'),
    strict: true,
    options: {
      url: { type: 'string' }, joiners: { type: 'string' }, stock: { type: 'string' }, rate: { type: 'string' }, 'pass-seconds': { type: 'string' },
      abandon: { type: 'string' }, 'start-in': { type: 'string' }, timeout: { type: 'string' }, out: { type: 'string' },
    },
  });
  const num = (v: string | undefined, def: number) => (v === undefined ? def : Number(v));
  const joiners = num(values.joiners, 500);
  return {
    url: values.url ?? 'http://127.0.0.1:3000',
    jwtSecret: env.JWT_SECRET ?? 'dev-only-secret-change-me-0123456789abcdef',
    joiners,
    stock: num(values.stock, joiners),
    ratePerSecond: num(values.rate, 50),
    passSeconds: num(values['pass-seconds'], 10),
    abandon: num(values.abandon, 0.1),
    startInS: num(values['start-in'], 5),
    timeoutS: num(values.timeout, 120),
    out: values.out ?? 'artifacts/loadtest',
  };
}
