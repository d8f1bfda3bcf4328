/**
 * `npm run bench` (or `npx tsx bench/run.ts`): the engine against its floor and its peers,
 * on this machine, interleaved (A B A B ...) so drift cancels out. One file per scenario:
 *
 *   (a) hello    bare Express 5 `GET /hello`                     scenarios/hello.ts      servers/hello.ts
 *   (b) admit    the engine's attempt endpoint, worker running    scenarios/admitting.ts  servers/engine.ts
 *       soldout  the same endpoint on a sold-out sale             scenarios/sold-out.ts
 *   (c) naive    synchronous PostgreSQL purchase per request      scenarios/naive.ts      servers/naive.ts
 *   (d) drain    orders/s of one worker from a pre-filled queue,  scenarios/drain.ts
 *                group commit (the shipped batch size) vs batch 1
 *
 * then report.ts (medians, ratios, targets, the table). harness/ holds the processes, the
 * meters, the tokens, the load generator and the storage they share.
 *
 * Own database (flashsale_bench, truncated at start) and its own redis-server on a free port
 * (`--redis shared`: logical DB 2 of 6379, where only the bench's own keys are deleted); everything on 127.0.0.1; every
 * child (the redis-server too) is stopped at the end, on errors and on SIGINT. Rate limits
 * are on (`--rate-limits off` to compare with runs before): the per-shopper limit at the
 * engine's default, the per-IP one raised, since every request comes from this one IP.
 * Progress goes to stderr; the markdown table to stdout; all figures to bench/results.json.
 * See bench/README.md.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { API_NODE_FLAGS } from '../src/config/node-flags';
import { signToken } from '../src/modules/auth/tokens';
import { Bench, BenchRedis, log, QUEUE_NAME, round1, TOKEN_TTL_S } from './harness/context';
import { MAX_RAMP_S } from './harness/load';
import { Options, parseOptions, usage } from './harness/options';
import { censusFlags, compile, Server, spawnWorker, startServer, stopAll, stopProcess } from './harness/processes';
import { cleanUpBenchRedis, rateLimitsFor, startBenchRedis } from './harness/redis-setup';
import { closeStorage, machineInfo, openStorage, Storage } from './harness/storage';
import { mintShopperHeaders } from './harness/tokens';
import { LINE_RESULTS_PATH, LineSummary } from './line';
import { report } from './report';
import { runDrainRounds } from './scenarios/drain';
import { measure, RunRecord } from './scenarios/http';
import { RUN_ORDER, SCENARIOS } from './scenarios/index';
import { soldOutSale } from './scenarios/sold-out';
import { childEnv, readRssMb } from './stack';

const RESULTS_PATH = path.join(__dirname, 'results.json');

/** Enough shoppers that an admitting run never meets one twice (about 33k req/s for 6 s). */
function shopperCount(opts: Options): number {
  return Math.min(1_000_000, Math.max(200_000, (opts.warmup + opts.duration) * 33_000, opts.drainJobs, opts.drainJobsBatch1));
}

/** Mints the tokens, starts hello, the engine, naive and a worker, and buys out the sold-out sale. */
async function startStack(storage: Storage, redis: BenchRedis, opts: Options): Promise<Bench> {
  const secret = randomBytes(16).toString('hex');
  const admin = signToken({ sub: 'bench-admin', role: 'admin' }, secret, TOKEN_TTL_S);
  const started = Date.now();
  const shoppers = mintShopperHeaders(secret, shopperCount(opts));
  log(`minted ${shoppers.length} shopper tokens in ${Date.now() - started} ms`);

  const rateLimits = rateLimitsFor(opts);
  log(rateLimits.limits.description);
  const env = childEnv(secret, QUEUE_NAME, { REDIS_URL: redis.url, BENCH_REDIS_CENSUS_DIR: redis.censusDir, ...rateLimits.env });
  const worker = spawnWorker(env);
  const [hello, engine, naive] = await Promise.all([
    startServer('hello', 'bench/servers/hello.ts', env),
    // The engine's API runs with the flags it ships with (as in the Dockerfile); hello and
    // naive run with Node's defaults. The engine and the worker also load the Redis census
    // (servers/redis-census.ts: counts the commands they send, by script).
    startServer('engine', 'bench/servers/engine.ts', env, [...API_NODE_FLAGS, ...censusFlags()]),
    startServer('naive', 'bench/servers/naive.ts', env),
    worker.ready,
  ]);
  const where = (name: string, s: Server) => `${name} ${s.url} (pid ${s.proc.pid})`;
  const attached = await storage.queue.getWorkersCount();
  log(`started ${where('hello', hello)}, ${where('engine', engine)}, ${where('naive', naive)}, ` +
    `worker pid ${worker.proc.pid} (${attached} attached to queue ${QUEUE_NAME})`);
  const soldOutSaleId = await soldOutSale({ secret, admin }, engine, storage.queue);
  return { opts, env, redis, rateLimits: rateLimits.limits, secret, admin, shoppers, storage, hello, engine, naive, worker: worker.proc, soldOutSaleId };
}

async function runHttpRounds(b: Bench): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (let round = 1; round <= b.opts.rounds; round++) {
    for (const scenario of RUN_ORDER) runs.push(await measure(b, scenario, round));
  }
  return runs;
}

/** RSS of each process after start-up and the smoke check, before any load. */
function idleRss(b: Bench): Record<string, number> {
  const procs = [b.hello.proc, b.engine.proc, b.naive.proc, ...(b.worker ? [b.worker] : [])];
  return Object.fromEntries(procs.map((p) => [p.name, round1(readRssMb(p.pid) ?? NaN)]));
}

function errorLinesOf(b: Bench): Record<string, number> {
  return { hello: b.hello.proc.errorLines, engine: b.engine.proc.errorLines, naive: b.naive.proc.errorLines, worker: b.worker?.errorLines ?? 0 };
}

async function runBench(opts: Options): Promise<void> {
  compile();
  const redis = await startBenchRedis(opts);
  process.once('exit', () => cleanUpBenchRedis(redis)); // also after a guard's abort
  const storage = await openStorage(redis.url, { ownServer: redis.privateServer });
  try {
    const machine = await machineInfo(storage);
    log(`machine: ${machine.cpus} × ${machine.model}, node ${machine.node}, load ${JSON.stringify(machine.loadavgAtStart)}`);
    const b = await startStack(storage, redis, opts);
    for (const scenario of SCENARIOS) await scenario.smoke(b);
    const idleRssMb = idleRss(b);
    const runs = await runHttpRounds(b);
    if (b.worker) await stopProcess(b.worker); // (d) needs a queue nobody drains
    b.worker = undefined;
    const drains = await runDrainRounds(b);
    const errorLines = { ...errorLinesOf(b) };
    const r = report(runs, drains, opts, { redis: redis.description, rateLimits: b.rateLimits.description });

    const results = {
      machine: { ...machine, loadavgAtEnd: os.loadavg().map(round1), redisServer: redis.description },
      options: { ...opts, nodeOptions: process.env.BENCH_NODE_OPTIONS ?? '', engineNodeFlags: API_NODE_FLAGS, rateLimits: b.rateLimits },
      runs,
      drain: drains,
      medians: { ...r.summaries, drainGrouped: r.dGrouped, drainBatch1: r.d1 },
      redisPerPurchase: r.redis,
      ratios: r.ratios,
      perRoundRatios: r.byRound,
      perRoundDrainRatios: r.drainByRound,
      apiMaxRssMb: r.apiRssMb,
      idleRssMb,
      targets: r.checks,
      errorLogLines: errorLines,
      markdown: r.table,
    };
    fs.writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`${r.table}\n`);
    log(`wrote ${path.relative(process.cwd(), RESULTS_PATH)}`);
    if (opts.line > 0) {
      // The waiting room's phase compares itself with this run's sold-out stampede (results.json, just written).
      const waitingRoom = await runLinePhase(opts);
      fs.writeFileSync(RESULTS_PATH, `${JSON.stringify({ ...results, waitingRoom }, null, 2)}\n`);
      log(`waiting room: ${JSON.stringify(waitingRoom.line100k)} vs the stampede ${JSON.stringify(waitingRoom.soldOutStampede)}: ${waitingRoom.verdict}`);
    }
  } finally {
    await closeStorage(storage);
    await stopAll();
    cleanUpBenchRedis(redis);
  }
}

/** bench/line.ts in a process of its own (its own Redis, API and database); returns its summary. */
async function runLinePhase(opts: Options): Promise<LineSummary> {
  log(`waiting room: ${opts.line} shoppers join, then poll (bench/line.ts)`);
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'line.ts'), '--line', String(opts.line), '--duration', String(opts.duration)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench/line.ts exited with ${code}`);
  return JSON.parse(fs.readFileSync(LINE_RESULTS_PATH, 'utf8')) as LineSummary;
}

/** Kills every child on Ctrl-C / SIGTERM, and if the whole run overstays its budget. */
function installGuards(opts: Options): void {
  const abort = (why: string, code: number) => {
    log(`${why}: stopping children`);
    void stopAll().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('SIGINT', 130));
  process.once('SIGTERM', () => abort('SIGTERM', 143));
  const perRunS = opts.warmup + opts.duration + MAX_RAMP_S + 30;
  const lineS = opts.line > 0 ? 120 + opts.duration + opts.line / 200 : 0;
  const budgetS = 300 + opts.rounds * SCENARIOS.length * perRunS + opts.drainRounds * 2 * 300 + lineS;
  setTimeout(() => abort(`overall time budget of ${budgetS} s exceeded`, 1), budgetS * 1000).unref();
}

async function main(): Promise<void> {
  let opts: Options | 'help';
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage()}`);
    process.exit(2);
  }
  if (opts === 'help') {
    console.log(usage());
    return;
  }
  installGuards(opts);
  await runBench(opts);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await stopAll();
    process.exit(1);
  },
);
