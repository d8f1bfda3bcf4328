/**
 * CPU profile of the engine's API process under one bench load: where does a request's
 * time go? Starts the compiled engine under `node --cpu-prof` (a flag NODE_OPTIONS does
 * not accept, hence this script), a worker, one sale, then autocannon on the attempt
 * endpoint, and prints the functions with the most self time, grouped by package.
 *
 *   npx tsx bench/profile.ts [--scenario admit|soldout|drain] [--duration S] [--connections C] [--purchases N]
 *
 * admit / soldout: load for --duration seconds with the worker running. drain: N purchases
 * are queued first (no worker), then the worker is started and profiled until PostgreSQL
 * holds all N orders.
 *
 * Uses the bench's storage (database flashsale_bench, Redis DB 2): run it when no
 * `npm run bench` is running. `--env KEY=VALUE` (repeatable) sets an engine/worker setting
 * for the run, e.g. `--env WORKER_BATCH_WAIT_MS=10`.
 * The raw profile stays in artifacts/profiles/ for Chrome
 * DevTools (Performance → Load profile).
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { signToken } from '../src/modules/auth/tokens';
import { prepareDatabase } from '../src/lib/migration-source';
import { call, expectStatus } from '../tools/client';
import { buildCompiled, childEnv, createSale, DATABASE_URL, HOST, intFlag, readCpuMs, ROOT, startChild as start } from './stack';

const OUT = path.join(ROOT, 'artifacts', 'profiles');

type Node = { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] };
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

/** Self time per function and per package (node_modules/<pkg>, node:internal, or our own files). */
function summarize(profile: Profile, top: number): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const idleId = profile.nodes.find((n) => n.callFrame.functionName === '(idle)')?.id;
  const all = [...self.values()].reduce((a, b) => a + b, 0);
  if (idleId !== undefined) self.delete(idleId);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url.replace(/^file:\/\//, '').replace(ROOT + '/', '');
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
    const group = m ? m[1]! : where === '' ? `(${functionName || 'native'})` : where.startsWith('node:') ? 'node:internal' : 'engine';
    pkg.set(group, (pkg.get(group) ?? 0) + us);
    const key = `${functionName || '(anonymous)'}  ${where}:${lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const rows = (m: Map<string, number>, n: number) =>
    [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, us]) => `${pct(us)}  ${k}`);
  return [`busy ${(total / 1e6).toFixed(1)} s of ${(all / 1e6).toFixed(1)} s profiled; shares below are of busy time`, 'self time by package:', ...rows(pkg, 20), '', `top ${top} functions by self time:`, ...rows(fn, top)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string', default: 'admit' },
      duration: { type: 'string', default: '8' },
      connections: { type: 'string', default: '100' },
      purchases: { type: 'string', default: '20000' },
      env: { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  const scenario = values.scenario;
  if (scenario !== 'admit' && scenario !== 'soldout' && scenario !== 'drain') throw new Error('--scenario must be admit, soldout or drain');
  const purchases = intFlag('purchases', values.purchases, 1, 90_000);
  const duration = intFlag('duration', values.duration, 1, 120);
  const connections = intFlag('connections', values.connections, 1, 1000);

  buildCompiled();
  await prepareDatabase(DATABASE_URL);
  fs.mkdirSync(OUT, { recursive: true });
  const before = new Set(fs.readdirSync(OUT));

  const secret = randomBytes(16).toString('hex');
  // --env K=V (repeatable): engine and worker settings to compare, e.g. WORKER_BATCH_WAIT_MS=10.
  const extra = Object.fromEntries(
    values.env.map((kv) => {
      const at = kv.indexOf('=');
      if (at < 1) throw new Error(`--env wants KEY=VALUE, got ${kv}`);
      return [kv.slice(0, at), kv.slice(at + 1)];
    }),
  );
  const e = childEnv(secret, `profile-${randomBytes(4).toString('hex')}`, extra);
  // Minted before the engine starts, so the profile holds the load and little else.
  const tokens = Array.from({ length: 100_000 }, (_, i) => `Bearer ${signToken({ sub: `p-${i}` }, secret)}`);
  const engine = await start(['--cpu-prof', `--cpu-prof-dir=${OUT}`, 'dist/bench/servers/engine.js'], e, /^READY \d+/);
  const startWorker = () => start(['--cpu-prof', `--cpu-prof-dir=${OUT}`, 'dist/workers/purchase-worker.js'], e, /WORKER_READY/);
  let worker = scenario === 'drain' ? undefined : await startWorker();
  const base = `http://${HOST}:${engine.line.split(' ')[1]}`;
  try {
    const admin = signToken({ sub: 'profile-admin', role: 'admin' }, secret);
    const saleId = await createSale(base, admin, { name: 'profile', stock: scenario === 'soldout' ? 1 : 5_000_000, perUserLimit: 1 });
    if (scenario === 'soldout') {
      const first = { token: signToken({ sub: 'first' }, secret), body: { quantity: 1 }, timeoutMs: 10_000 };
      expectStatus(await call(base, 'POST', `/api/sales/${saleId}/purchases`, first), 202, 'buy out');
    }
    const cpuMs = (pid: number) => readCpuMs(pid) ?? 0;
    /** CPU ms of every process whose name starts with `prefix` (redis-server, postgres backends). */
    const cpuOfNamed = (prefix: string) =>
      fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .reduce((sum, d) => {
          try {
            return fs.readFileSync(`/proc/${d}/comm`, 'utf8').startsWith(prefix) ? sum + cpuMs(Number(d)) : sum;
          } catch {
            return sum; // exited meanwhile
          }
        }, 0);
    let next = 0; // the first request of each connection is a 401: too few to matter
    const load = (opts: { duration: number } | { amount: number }) =>
      autocannon({
        url: `${base}/api/sales/${saleId}/purchases`,
        method: 'POST',
        connections,
        ...opts,
        body: JSON.stringify({ quantity: 1 }),
        headers: { 'content-type': 'application/json', authorization: 'Bearer none' },
        setupClient: (client) => {
          client.on('response', () => client.setHeaders({ 'content-type': 'application/json', authorization: tokens[next++ % tokens.length]! }));
        },
      });
    if (scenario === 'drain') {
      const filled = await load({ amount: purchases + connections });
      const admitted = filled['2xx'];
      const db = new Client({ connectionString: e.DATABASE_URL });
      await db.connect();
      try {
        const started = Date.now();
        worker = await startWorker();
        const cpu0 = cpuMs(worker.child.pid!);
        for (;;) {
          const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE sale_id = $1', [saleId]);
          if (rows[0]!.n >= admitted) break;
          if (Date.now() - started > 300_000) throw new Error(`drain: ${rows[0]!.n}/${admitted} orders after 300 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
        const s = (Date.now() - started) / 1000;
        process.stderr.write(
          `[profile] drain: ${admitted} purchases in ${s.toFixed(1)} s (${Math.round(admitted / s)} orders/s incl. start-up); ` +
            `worker CPU µs/purchase ${Math.round(((cpuMs(worker.child.pid!) - cpu0) * 1000) / admitted)} (profiling adds some)\n`,
        );
      } finally {
        await db.end();
      }
    } else {
      const cpuBefore = [engine.child.pid!, worker!.child.pid!].map(cpuMs);
      const othersBefore = ['redis-server', 'postgres'].map(cpuOfNamed);
      const result = await load({ duration });
      const [redisUs, pgUs] = ['redis-server', 'postgres'].map((n, i) => Math.round(((cpuOfNamed(n) - othersBefore[i]!) * 1000) / result.requests.total));
      const [api, wrk] = [engine.child.pid!, worker!.child.pid!].map((pid, i) => Math.round(((cpuMs(pid) - cpuBefore[i]!) * 1000) / result.requests.total));
      process.stderr.write(
        `[profile] ${scenario}: ${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms, non-2xx ${result.non2xx}; ` +
          `CPU µs/request: API ${api}, worker ${wrk} (profiling adds some), Redis ${redisUs}, PostgreSQL ${pgUs}\n`,
      );
    }
  } finally {
    const children = [engine.child, ...(worker ? [worker.child] : [])];
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  }
  const pids = new Map([[engine.child.pid, 'API process'], [worker?.child.pid, 'worker process']]);
  for (const file of fs.readdirSync(OUT).filter((f) => !before.has(f) && f.endsWith('.cpuprofile'))) {
    const pid = Number(file.split('.')[3]);
    const profile = JSON.parse(fs.readFileSync(path.join(OUT, file), 'utf8')) as Profile;
    console.log(`\n== ${pids.get(pid) ?? `pid ${pid}`}: ${path.relative(ROOT, path.join(OUT, file))}\n${summarize(profile, 30)}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`[profile] failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
