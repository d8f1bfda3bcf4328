/**
 * `npm run bench` (or `npx tsx bench/run.ts`): the engine against its floor and its peers,
 * on this machine, interleaved (A B A B ...) so drift cancels out.
 *
 *   (a) hello    bare Express 5 `GET /hello`                     bench/servers/hello.ts
 *   (b) admit    the engine's attempt endpoint, worker running    bench/servers/engine.ts
 *       soldout  the same endpoint on a sold-out sale
 *   (c) naive    synchronous PostgreSQL purchase per request      bench/servers/naive.ts
 *   (d) drain    orders/s of one worker from a pre-filled queue, group commit (the shipped batch size) vs batch 1
 *
 * Own database (flashsale_bench, truncated at start) and Redis logical DB 2 (flushed at
 * start); everything on 127.0.0.1; every child is killed at the end, on errors and on SIGINT.
 * Progress goes to stderr; the markdown table to stdout; all figures to bench/results.json.
 * See bench/README.md.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs, ParseArgsConfig } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import jwt from 'jsonwebtoken';
import { WORKER_BATCH_DEFAULTS } from '../src/config/config';
import { API_NODE_FLAGS } from '../src/config/node-flags';
import { createDb, Db } from '../src/lib/db';
import { prepareDatabase } from '../src/lib/migration-source';
import { signToken, verificationKey, verifyToken } from '../src/modules/auth/tokens';
import { createPurchaseQueue, PurchaseQueue } from '../src/modules/purchases/queue';
import { createKeys } from '../src/gate/keys';
import { buildCompiled, call, childEnv, createSale, DATABASE_URL, expectStatus, HOST, intFlag, median, readCpuMs, readRssMb, REDIS_PREFIX, REDIS_URL, ROOT } from './stack';

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

const RESULTS_PATH = path.join(__dirname, 'results.json');
/** Fresh per run: a worker orphaned by a killed earlier run (SIGKILL) never sees this run's jobs. */
const QUEUE_NAME = `bench-${randomBytes(4).toString('hex')}`;
/** Stock of the admitting and naive sales: big enough never to sell out during a run. */
const BIG_STOCK = 5_000_000;
const TOKEN_TTL_S = 4 * 3600;
const RSS_SAMPLE_MS = 200;
const ORDERS_POLL_MS = 100;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const QUEUE_IDLE_TIMEOUT_MS = 180_000;
/** Longest wait for every connection's first response before the window opens anyway. */
const MAX_RAMP_S = 20;

const TARGETS = {
  admitVsHello: 0.7,
  admitP99Ms: 50,
  soldoutVsHello: 0.9,
  admitVsNaive: 5,
  drainVsBatch1: 8,
  apiRssMb: 200,
} as const;

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------------

type Options = Readonly<{
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  drainJobs: number;
  drainJobsBatch1: number;
  drainRounds: number;
}>;

type IntFlag = { min: number; max: number; help: string };
const INT_FLAGS = {
  rounds: { min: 1, max: 20, help: 'interleaved rounds of (a) (b) (c), default 3' },
  duration: { min: 1, max: 120, help: 'seconds per measured run, default 5' },
  warmup: { min: 0, max: 30, help: 'least seconds of warm-up on the same connections, default 1' },
  connections: { min: 1, max: 1000, help: 'autocannon connections, default 100' },
  // At most 90k: the engine answers 503 OVERLOADED above QUEUE_MAX_BACKLOG (100k waiting jobs).
  'drain-jobs': { min: 100, max: 90_000, help: 'jobs pre-filled for the group-commit drain, default 20000' },
  'drain-jobs-batch1': { min: 100, max: 90_000, help: 'jobs pre-filled for the batch-1 drain, default min(3000, drain-jobs)' },
  'drain-rounds': { min: 1, max: 10, help: 'interleaved rounds of (d), default 1' },
} as const satisfies Record<string, IntFlag>;
type IntFlagName = keyof typeof INT_FLAGS;

function usage(): string {
  const lines = Object.entries(INT_FLAGS).map(([name, f]) => `  --${name} N`.padEnd(26) + `${f.help} (${f.min}-${f.max})`);
  return ['usage: npx tsx bench/run.ts [flags]', ...lines, '  --help'.padEnd(26) + 'this text'].join('\n');
}

function flag(name: IntFlagName, raw: string | undefined, def: number): number {
  return raw === undefined ? def : intFlag(name, raw, INT_FLAGS[name].min, INT_FLAGS[name].max);
}

/** Parses and validates the command line; throws with a readable message on anything unknown. */
function parseOptions(argv: string[]): Options | 'help' {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const name of Object.keys(INT_FLAGS)) options[name] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help === true) return 'help';
  const raw = (name: IntFlagName): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const drainJobs = flag('drain-jobs', raw('drain-jobs'), 20_000);
  return Object.freeze({
    rounds: flag('rounds', raw('rounds'), 3),
    duration: flag('duration', raw('duration'), 5),
    warmup: flag('warmup', raw('warmup'), 1),
    connections: flag('connections', raw('connections'), 100),
    drainJobs,
    drainJobsBatch1: flag('drain-jobs-batch1', raw('drain-jobs-batch1'), Math.min(3000, drainJobs)),
    drainRounds: flag('drain-rounds', raw('drain-rounds'), 1),
  });
}

// ---------------------------------------------------------------------------------------------
// Child processes
// ---------------------------------------------------------------------------------------------

type Proc = {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  /** Last lines of stdout and stderr, for error messages. */
  tail: string[];
  /** Log lines at level error written after start-up. */
  errorLines: number;
};

const running = new Set<Proc>();

function remember(proc: Proc, line: string): void {
  proc.tail.push(line);
  if (proc.tail.length > 20) proc.tail.shift();
}

function compile(): void {
  log('compiling to dist/ (tsc) ...');
  buildCompiled();
}

/**
 * Spawns `node dist/<script>.js` and returns at once; `ready` resolves with the
 * first stdout line matching `readyLine`, or rejects if the process exits or times out first.
 */
function spawnScript(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  readyLine: RegExp,
  opts: { ipc: boolean; nodeFlags?: readonly string[] },
): { proc: Proc; ready: Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), path.join(ROOT, 'dist', script.replace(/\.ts$/, '.js'))], {
    cwd: ROOT,
    env,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${name}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proc: Proc = { name, child, pid: child.pid, exited, tail: [], errorLines: 0 };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  readline.createInterface({ input: child.stderr! }).on('line', (line) => remember(proc, `stderr: ${line}`));

  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${START_TIMEOUT_MS} ms:\n${proc.tail.join('\n')}`)), START_TIMEOUT_MS);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(proc, line);
      const match = started ? null : readyLine.exec(line);
      if (match) {
        started = true;
        clearTimeout(timer);
        resolve(match);
      } else if (started && line.includes('"level":"error"')) {
        proc.errorLines += 1;
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited (code ${child.exitCode}) before it was ready:\n${proc.tail.join('\n')}`));
    });
  });
  return { proc, ready };
}

async function stopProcess(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timedOut = await Promise.race([proc.exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    log(`${proc.name} ignored SIGTERM for ${STOP_TIMEOUT_MS} ms: SIGKILL`);
    proc.child.kill('SIGKILL');
    await Promise.race([proc.exited, sleep(2_000)]);
  }
}

async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stopProcess(p)));
}

type Server = { proc: Proc; url: string };

async function startServer(name: string, script: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): Promise<Server> {
  const { proc, ready } = spawnScript(name, script, env, /^READY (\d+)$/, { ipc: true, nodeFlags });
  const match = await ready;
  return { proc, url: `http://${HOST}:${match[1]}` };
}

function spawnWorker(secret: string, extra: Record<string, string> = {}): { proc: Proc; ready: Promise<RegExpExecArray> } {
  return spawnScript('worker', 'workers/purchase-worker.ts', childEnv(secret, QUEUE_NAME, extra), /WORKER_READY/, { ipc: false });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Process meters: RSS (/proc/<pid>/status VmRSS) and CPU time (/proc/<pid>/stat utime + stime)
// ---------------------------------------------------------------------------------------------

type Metered = { rssMb: Record<string, number>; cpuMs: Record<string, number> };

/**
 * Samples each process's RSS every 200 ms from start() to stop() (keeps the maximum per
 * process name) and counts its CPU time from start() or restartCpu() to stopCpu() or stop();
 * `loadgen` is this process (autocannon).
 */
class ProcessMeter {
  private readonly maxRss = new Map<string, number>();
  private readonly cpuAtStart = new Map<string, number>();
  private loadgenAtStart = process.cpuUsage();
  private cpuMs: Record<string, number> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly procs: Proc[]) {}

  start(): this {
    this.restartCpu();
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
    return this;
  }

  /** CPU is counted from here (e.g. after the warm-up); RSS from start(). */
  restartCpu(): void {
    this.cpuMs = undefined;
    for (const p of this.procs) this.cpuAtStart.set(p.name, readCpuMs(p.pid) ?? NaN);
    this.loadgenAtStart = process.cpuUsage();
  }

  /** CPU is counted up to here (e.g. when the measured window closes); RSS until stop(). */
  stopCpu(): void {
    if (this.cpuMs) return;
    const loadgen = process.cpuUsage(this.loadgenAtStart);
    this.cpuMs = { loadgen: Math.round((loadgen.user + loadgen.system) / 1000) };
    for (const p of this.procs) this.cpuMs[p.name] = Math.round((readCpuMs(p.pid) ?? NaN) - (this.cpuAtStart.get(p.name) ?? NaN));
  }

  stop(): Metered {
    clearInterval(this.timer);
    this.sample();
    this.stopCpu();
    return { rssMb: Object.fromEntries([...this.maxRss].map(([name, mb]) => [name, round1(mb)])), cpuMs: this.cpuMs ?? {} };
  }

  private sample(): void {
    for (const p of this.procs) {
      const mb = readRssMb(p.pid);
      if (mb !== undefined) this.maxRss.set(p.name, Math.max(this.maxRss.get(p.name) ?? 0, mb));
    }
  }
}

/** CPU microseconds per unit of work (request or order), per process. */
function cpuPer(cpuMs: Record<string, number>, units: number): Record<string, number> {
  return Object.fromEntries(Object.entries(cpuMs).map(([name, ms]) => [name, units > 0 ? Math.round((ms * 1000) / units) : NaN]));
}

// ---------------------------------------------------------------------------------------------
// Tokens: pre-minted, rotated so every request is a fresh shopper
// ---------------------------------------------------------------------------------------------

/** `Bearer <jwt>` headers for shoppers `bench-u0..n-1`, the same claims signToken makes. */
function mintShopperHeaders(secret: string, count: number): string[] {
  // With a string secret jsonwebtoken first tries to parse it as a public key (~0.35 ms per
  // call here); the prepared KeyObject skips that: 200k tokens in seconds, not a minute.
  const key = verificationKey(secret);
  const headers = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    headers[i] = `Bearer ${jwt.sign({}, key, { algorithm: 'HS256', subject: `bench-u${i}`, expiresIn: TOKEN_TTL_S })}`;
  }
  assertSameShapeAsSignToken(headers[0]!.slice('Bearer '.length), secret);
  return headers;
}

function assertSameShapeAsSignToken(token: string, secret: string): void {
  const principal = verifyToken(token, secret);
  if (principal?.userId !== 'bench-u0' || principal.role !== 'shopper') throw new Error('minted shopper token does not verify');
  const claims = (t: string) => Object.keys((jwt.decode(t) as Record<string, unknown> | null) ?? {}).sort().join(',');
  const reference = signToken({ sub: 'bench-u0' }, secret, TOKEN_TTL_S);
  if (claims(token) !== claims(reference)) throw new Error(`minted claims ${claims(token)} differ from signToken's ${claims(reference)}`);
}

/** Walks the pre-minted headers from the start; wraps (and says so) when a run needs more. */
class TokenCursor {
  private used = 0;
  constructor(private readonly headers: readonly string[]) {}
  next(): string {
    const header = this.headers[this.used % this.headers.length]!;
    this.used += 1;
    return header;
  }
  get count(): number {
    return this.used;
  }
  get wrapped(): boolean {
    return this.used > this.headers.length;
  }
}

// ---------------------------------------------------------------------------------------------
// Plain HTTP calls (set-up and smoke checks)
// ---------------------------------------------------------------------------------------------


/** Creates a product and an active sale through the engine's admin API. */
// ---------------------------------------------------------------------------------------------
// Load (autocannon)
// ---------------------------------------------------------------------------------------------

type Target = { url: string; method: 'GET' | 'POST'; body?: string; tokens: TokenCursor };

/** What the measured window of a run saw (autocannon's own totals include the warm-up). */
type Sample = {
  latenciesMs: number[];
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  seconds: number;
  /** ms from the first request until every connection had its first response. */
  rampMs: number | null;
};

type Length = { warmupS: number; durationS: number } | { amount: number };

type WindowHooks = { onOpen?: () => void; onClose?: () => void };

/**
 * One autocannon instance; every request carries the next shopper's token.
 *
 * With a warm-up, the measured window opens once the warm-up has passed AND every
 * connection has had a response: a saturated Node server leaves some of 100 fresh
 * connections unanswered for seconds (any Node server does; the cost per request sets how
 * long), and that ramp is not the steady state being measured. The window then runs for
 * `durationS` on the same connections and closes; only responses inside it count.
 */
function runLoad(target: Target, connections: number, length: Length, hooks: WindowHooks = {}): Promise<Sample> {
  const setupRequest = (req: autocannon.Request): autocannon.Request => {
    req.headers = { ...req.headers, authorization: target.tokens.next() };
    return req;
  };
  const sample: Sample = { latenciesMs: [], statusCounts: {}, errors: 0, timeouts: 0, seconds: 0, rampMs: null };
  const windowed = 'warmupS' in length;
  const answered = new Set<object>();
  let phase: 'warmup' | 'window' | 'closed' = windowed ? 'warmup' : 'window';
  let warmedUp = !windowed || length.warmupS === 0;
  let startedAt = performance.now();
  let windowStart = startedAt;

  return new Promise<Sample>((resolve, reject) => {
    const closeWindow = () => {
      if (phase !== 'window') return;
      phase = 'closed';
      sample.seconds = (performance.now() - windowStart) / 1000;
      hooks.onClose?.();
    };
    const instance = autocannon(
      {
        url: target.url,
        method: target.method,
        connections,
        ...(target.body !== undefined ? { body: target.body, headers: { 'content-type': 'application/json' } } : {}),
        requests: [{ setupRequest }],
        // Windowed runs are stopped when the window closes; the duration is only a bound.
        ...(windowed ? { duration: length.warmupS + length.durationS + MAX_RAMP_S } : { amount: length.amount }),
      },
      (err: Error | null) => {
        if (err) return reject(err);
        if (phase === 'warmup') return reject(new Error(`the measured window never opened (${answered.size}/${connections} connections answered)`));
        closeWindow();
        resolve(sample);
      },
    );
    const openWindow = () => {
      if (phase !== 'warmup' || !warmedUp) return;
      if (answered.size < connections && performance.now() - startedAt < MAX_RAMP_S * 1000) return;
      phase = 'window';
      windowStart = performance.now();
      hooks.onOpen?.();
      if (windowed) {
        setTimeout(() => {
          closeWindow();
          instance.stop();
        }, length.durationS * 1000);
      }
    };
    instance.on('start', () => {
      startedAt = performance.now();
      windowStart = startedAt;
      if (!windowed) return hooks.onOpen?.();
      setTimeout(() => {
        warmedUp = true;
        openWindow();
      }, length.warmupS * 1000);
      setTimeout(openWindow, MAX_RAMP_S * 1000);
    });
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      const counted = phase === 'window';
      if (sample.rampMs === null) {
        answered.add(client);
        if (answered.size === connections) sample.rampMs = Math.round(performance.now() - startedAt);
        openWindow();
      }
      if (!counted) return;
      sample.latenciesMs.push(responseTime);
      sample.statusCounts[statusCode] = (sample.statusCounts[statusCode] ?? 0) + 1;
    });
    instance.on('reqError', (err: Error) => {
      if (phase !== 'window') return;
      sample.errors += 1;
      if (err.message === 'request timed out') sample.timeouts += 1;
    });
  });
}

type Figures = {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  responses: number;
  expectedStatus: number;
  expected: number;
  /** Responses with another status, plus connection errors and timeouts. */
  unexpected: number;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  windowS: number;
  rampMs: number | null;
};

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function figures(sample: Sample, expectedStatus: number): Figures {
  const sorted = Float64Array.from(sample.latenciesMs).sort();
  const responses = sorted.length;
  const expected = sample.statusCounts[String(expectedStatus)] ?? 0;
  return {
    reqPerSec: Math.round(responses / sample.seconds),
    p50Ms: round1(percentile(sorted, 50)),
    p99Ms: round1(percentile(sorted, 99)),
    meanMs: round1(sorted.reduce((a, b) => a + b, 0) / Math.max(1, responses)),
    maxMs: round1(sorted[responses - 1] ?? NaN),
    responses,
    expectedStatus,
    expected,
    unexpected: responses - expected + sample.errors,
    statusCounts: sample.statusCounts,
    errors: sample.errors,
    timeouts: sample.timeouts,
    windowS: round2(sample.seconds),
    rampMs: sample.rampMs,
  };
}

// ---------------------------------------------------------------------------------------------
// Storage: the bench's own database and Redis DB
// ---------------------------------------------------------------------------------------------

type Storage = { db: Db; redis: Redis; queue: PurchaseQueue };

async function openStorage(): Promise<Storage> {
  await prepareDatabase(DATABASE_URL);
  const db = createDb(DATABASE_URL, 2);
  // This database belongs to the bench alone: start every run from empty tables.
  await db.raw('TRUNCATE orders, purchases, sale_inventory, sales, products');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3, connectionName: 'fs-bench' });
  await redis.flushdb();
  const queue = createPurchaseQueue(redis, { name: QUEUE_NAME, prefix: createKeys(REDIS_PREFIX).bullPrefix, attempts: 1, backoffMs: 100 });
  return { db, redis, queue };
}

async function closeStorage(s: Storage): Promise<void> {
  await s.queue.close().catch(() => undefined);
  await s.redis.quit().catch(() => undefined);
  await s.db.destroy().catch(() => undefined);
}

async function queueBacklog(queue: PurchaseQueue): Promise<number> {
  const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
  return Object.values(c).reduce((a, b) => a + b, 0);
}

/** Waits until the worker has taken every job (so the next scenario runs on a quiet machine). */
async function waitForQueueIdle(queue: PurchaseQueue): Promise<{ backlog: number; ms: number }> {
  const started = Date.now();
  const backlog = await queueBacklog(queue);
  for (let left = backlog; left > 0; left = await queueBacklog(queue)) {
    if (Date.now() - started > QUEUE_IDLE_TIMEOUT_MS) throw new Error(`queue still holds ${left} jobs after ${QUEUE_IDLE_TIMEOUT_MS} ms`);
    await sleep(100);
  }
  return { backlog, ms: Date.now() - started };
}

async function ordersOf(db: Db, saleId: string): Promise<number> {
  const row = (await db.raw<{ rows: { n: number }[] }>('SELECT count(*)::int AS n FROM orders WHERE sale_id = ?', [saleId])).rows[0];
  return row?.n ?? 0;
}

async function machineInfo(s: Storage): Promise<Record<string, unknown>> {
  const cpus = os.cpus();
  const settings = `SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc`;
  const pg = (await s.db.raw<{ rows: { v: string; sc: string }[] }>(settings)).rows[0];
  const redisVersion = /redis_version:(\S+)/.exec(await s.redis.info('server'))?.[1];
  return {
    cpus: cpus.length,
    model: cpus[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    totalMemMb: Math.round(os.totalmem() / 2 ** 20),
    date: new Date().toISOString(),
    loadavgAtStart: os.loadavg().map(round1),
    postgres: pg?.v,
    postgresSynchronousCommit: pg?.sc,
    redis: redisVersion,
  };
}

// ---------------------------------------------------------------------------------------------
// Scenarios (a), (b), (c)
// ---------------------------------------------------------------------------------------------

type ScenarioId = 'hello' | 'admit' | 'soldout' | 'naive';
const SCENARIOS: readonly ScenarioId[] = ['hello', 'admit', 'soldout', 'naive'];
/**
 * The order within a round: each ratio's two runs sit next to each other (sold out | hello,
 * hello | admitting, admitting | naive), so the machine's drift between them is the
 * smallest it can be. (In a b b c order, admitting and naive were a run apart, and
 * admitting / naive swung 3.7-6.7 by round.)
 */
const RUN_ORDER: readonly ScenarioId[] = ['soldout', 'hello', 'admit', 'naive'];
const LABEL: Record<ScenarioId, string> = {
  hello: '(a) bare Express hello',
  admit: '(b) engine attempt, admitting',
  soldout: '(b) engine attempt, sold out',
  naive: '(c) naive sync PostgreSQL',
};
const EXPECTED_STATUS: Record<ScenarioId, number> = { hello: 200, admit: 202, soldout: 409, naive: 201 };
/** The process that serves each scenario (its RSS is the table's). */
const SERVER_OF: Record<ScenarioId, string> = { hello: 'hello', admit: 'engine', soldout: 'engine', naive: 'naive' };
const ATTEMPT_BODY = JSON.stringify({ quantity: 1 });

type Bench = {
  opts: Options;
  secret: string;
  admin: string;
  shoppers: string[];
  storage: Storage;
  hello: Server;
  engine: Server;
  naive: Server;
  worker?: Proc;
  soldOutSaleId: string;
};

type RunRecord = Figures & {
  scenario: ScenarioId;
  round: number;
  saleId?: string;
  /** Max RSS (MB) per process during the warm-up and the measured run. */
  rssMb: Record<string, number>;
  /** CPU time per response during the measured run, per process (loadgen = autocannon, this process). */
  cpuUsPerReq: Record<string, number>;
  tokensUsed: number;
  tokensWrapped: boolean;
  /** Admitting only: jobs left in the queue after the run, and how long the worker took to finish them. */
  backlogAfter?: number;
  backlogDrainMs?: number;
  /** Admitting only: purchases per worker transaction while admission was running. */
  workerAvgBatch?: number | null;
};

const attemptsUrl = (server: Server, saleId: string) => `${server.url}/api/sales/${saleId}/purchases`;

/** The endpoint of one run; admitting and naive runs get a fresh big sale so shoppers are new to it. */
async function targetOf(b: Bench, scenario: ScenarioId, round: number): Promise<{ target: Target; server: Server; saleId?: string }> {
  const tokens = new TokenCursor(b.shoppers);
  const post = (server: Server, saleId: string) => ({
    target: { url: attemptsUrl(server, saleId), method: 'POST' as const, body: ATTEMPT_BODY, tokens },
    server,
    saleId,
  });
  switch (scenario) {
    case 'hello':
      // Hello ignores the token, but sending it keeps the load generator's work per request equal.
      return { target: { url: `${b.hello.url}/hello`, method: 'GET', tokens }, server: b.hello };
    case 'admit':
      return post(b.engine, await createSale(b.engine.url, b.admin, { name: `bench admit r${round}`, stock: BIG_STOCK, perUserLimit: 1 }));
    case 'soldout':
      return post(b.engine, b.soldOutSaleId);
    case 'naive':
      return post(b.naive, await createSale(b.engine.url, b.admin, { name: `bench naive r${round}`, stock: BIG_STOCK, perUserLimit: 1 }));
  }
}

async function measure(b: Bench, scenario: ScenarioId, round: number): Promise<RunRecord> {
  const { target, server, saleId } = await targetOf(b, scenario, round);
  const watched = scenario === 'admit' || scenario === 'soldout' ? [server.proc, ...(b.worker ? [b.worker] : [])] : [server.proc];
  const meter = new ProcessMeter(watched).start();
  const sample = await runLoad(
    target,
    b.opts.connections,
    { warmupS: b.opts.warmup, durationS: b.opts.duration },
    { onOpen: () => meter.restartCpu(), onClose: () => meter.stopCpu() },
  );
  const { rssMb, cpuMs } = meter.stop();
  const f = figures(sample, EXPECTED_STATUS[scenario]);
  const record: RunRecord = {
    scenario,
    round,
    ...(saleId ? { saleId } : {}),
    ...f,
    rssMb,
    cpuUsPerReq: cpuPer(cpuMs, f.responses),
    tokensUsed: target.tokens.count,
    tokensWrapped: target.tokens.wrapped,
  };
  if (scenario === 'admit') {
    const idle = await waitForQueueIdle(b.storage.queue);
    record.backlogAfter = idle.backlog;
    record.backlogDrainMs = idle.ms;
    if (saleId) record.workerAvgBatch = await averageBatch(b.storage.db, saleId);
  }
  log(
    `round ${round} ${scenario.padEnd(7)} ${String(record.reqPerSec).padStart(6)} req/s  p50 ${record.p50Ms} ms  p99 ${record.p99Ms} ms  ` +
      `ramp ${record.rampMs} ms  unexpected ${record.unexpected}  rss MB ${JSON.stringify(rssMb)}  cpu µs/req ${JSON.stringify(record.cpuUsPerReq)}`,
  );
  return record;
}

/** One request per scenario before spending minutes: fails fast with the reply that was wrong. */
async function smokeCheck(b: Bench): Promise<void> {
  const smokeSale = await createSale(b.engine.url, b.admin, { name: 'bench smoke', stock: 10, perUserLimit: 1 });
  const token = (sub: string) => `Bearer ${signToken({ sub }, b.secret, TOKEN_TTL_S)}`;
  expectStatus('hello', await call(`${b.hello.url}/hello`), 200);
  const attempt = (server: Server, saleId: string, sub: string) =>
    call(attemptsUrl(server, saleId), { method: 'POST', authorization: token(sub), body: { quantity: 1 } });
  expectStatus('engine attempt', await attempt(b.engine, smokeSale, 'bench-smoke-engine'), 202);
  expectStatus('engine attempt, sold out', await attempt(b.engine, b.soldOutSaleId, 'bench-smoke-soldout'), 409);
  expectStatus('naive attempt', await attempt(b.naive, smokeSale, 'bench-smoke-naive'), 201);
  expectStatus('naive attempt, same shopper', await attempt(b.naive, smokeSale, 'bench-smoke-naive'), 409);
  await waitForQueueIdle(b.storage.queue);
}

/** A sale of one unit, bought out before the sold-out runs (and confirmed by the worker). */
async function soldOutSale(engine: Server, admin: string, secret: string, queue: PurchaseQueue): Promise<string> {
  const saleId = await createSale(engine.url, admin, { name: 'bench sold out', stock: 1, perUserLimit: 1 });
  const buyer = `Bearer ${signToken({ sub: 'bench-first-buyer' }, secret, TOKEN_TTL_S)}`;
  expectStatus('buy out', await call(attemptsUrl(engine, saleId), { method: 'POST', authorization: buyer, body: { quantity: 1 } }), 202);
  await waitForQueueIdle(queue);
  return saleId;
}

// ---------------------------------------------------------------------------------------------
// Scenario (d): drain rate of one worker from a pre-filled queue
// ---------------------------------------------------------------------------------------------

type DrainRecord = {
  batchSize: number;
  round: number;
  saleId: string;
  /** Purchases admitted over HTTP (202) into the queue before the worker started (prefill.jobs: the queue jobs holding them). */
  jobs: number;
  prefill: { jobs: number; reqPerSec: number; statusCounts: Record<string, number>; apiRssMb: number };
  /** From the first poll that saw an order to the poll that saw them all. */
  ordersPerSec: number;
  /** Cross-check from PostgreSQL: orders / (last - first orders.created_at, i.e. transaction start). */
  dbSpanOrdersPerSec: number | null;
  firstSeenOrders: number;
  seconds: number;
  workerStartMs: number;
  workerMaxRssMb: number;
  /** Worker CPU per order, from the first poll that saw orders to the last. */
  workerCpuUsPerOrder: number;
  /** Purchases per worker transaction (group commit at work). */
  avgBatch: number | null;
  purchases: Record<string, number>;
};

/**
 * Fills the queue for `saleId` through the real admission path (HTTP 202s); no worker is
 * running. `connections` 1 sends one attempt at a time, so each queue job holds one
 * purchase (the one-job-one-transaction baseline); more connections let the API put the
 * purchases it admits together into shared jobs, as it does in production.
 */
async function prefill(b: Bench, saleId: string, purchases: number, connections: number): Promise<DrainRecord['prefill'] & { admitted: number }> {
  const workers = await b.storage.queue.getWorkersCount();
  if (workers !== 0) throw new Error(`pre-fill: ${workers} worker(s) still attached to the queue`);
  const meter = new ProcessMeter([b.engine.proc]).start();
  const target: Target = { url: attemptsUrl(b.engine, saleId), method: 'POST', body: ATTEMPT_BODY, tokens: new TokenCursor(b.shoppers) };
  const sample = await runLoad(target, Math.min(connections, purchases), { amount: purchases });
  const rss = meter.stop().rssMb;
  const f = figures(sample, 202);
  const jobs = await b.storage.queue.getWaiting();
  const queued = jobs.reduce((n, j) => n + j.data.purchases.length, 0);
  if (queued !== f.expected) throw new Error(`pre-fill: ${f.expected} admitted but ${queued} purchases in the queue`);
  return { admitted: f.expected, jobs: jobs.length, reqPerSec: f.reqPerSec, statusCounts: f.statusCounts, apiRssMb: rss.engine ?? 0 };
}

type OrdersWatch = { firstAt: number; firstSeen: number; doneAt: number };

/** Polls the sale's order count every 100 ms until it reaches `jobs`. */
async function watchOrders(db: Db, saleId: string, jobs: number, worker: Proc, onFirstOrders: () => void): Promise<OrdersWatch> {
  const deadline = Date.now() + 60_000 + jobs * 10; // fails only below ~100 orders/s
  let first: { at: number; seen: number } | undefined;
  for (;;) {
    const n = await ordersOf(db, saleId);
    const now = Date.now();
    if (n > 0 && !first) {
      first = { at: now, seen: n };
      onFirstOrders();
    }
    if (n >= jobs && first) return { firstAt: first.at, firstSeen: first.seen, doneAt: now };
    if (worker.child.exitCode !== null) throw new Error(`worker exited during the drain:\n${worker.tail.join('\n')}`);
    if (now > deadline) throw new Error(`drain: ${n}/${jobs} orders after ${Math.round((now - (first?.at ?? now)) / 1000)} s`);
    await sleep(ORDERS_POLL_MS);
  }
}

/**
 * Average purchases written per worker transaction: orders.created_at defaults to now(),
 * the transaction's start time, so distinct values count the transactions (≈, to the µs).
 */
async function averageBatch(db: Db, saleId: string): Promise<number | null> {
  const row = (
    await db.raw<{ rows: { n: number; txs: number }[] }>(
      'SELECT count(*)::int AS n, count(DISTINCT created_at)::int AS txs FROM orders WHERE sale_id = ?',
      [saleId],
    )
  ).rows[0];
  return row && row.txs > 0 ? round1(row.n / row.txs) : null;
}

async function dbSpanRate(db: Db, saleId: string): Promise<number | null> {
  const row = (
    await db.raw<{ rows: { n: number; span: number | null }[] }>(
      'SELECT count(*)::int AS n, extract(epoch FROM max(created_at) - min(created_at))::float8 AS span FROM orders WHERE sale_id = ?',
      [saleId],
    )
  ).rows[0];
  return row && row.span && row.span > 0 ? Math.round(row.n / row.span) : null;
}

async function purchaseStatuses(db: Db, saleId: string): Promise<Record<string, number>> {
  const { rows } = await db.raw<{ rows: { status: string; n: number }[] }>(
    'SELECT status, count(*)::int AS n FROM purchases WHERE sale_id = ? GROUP BY status',
    [saleId],
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

async function drainOnce(b: Bench, batchSize: number, jobs: number, round: number): Promise<DrainRecord> {
  const saleId = await createSale(b.engine.url, b.admin, { name: `bench drain b${batchSize} r${round}`, stock: jobs, perUserLimit: 1 });
  const filled = await prefill(b, saleId, jobs, batchSize === 1 ? 1 : b.opts.connections);
  const spawnedAt = Date.now();
  const { proc, ready } = spawnWorker(b.secret, { WORKER_BATCH_SIZE: String(batchSize) });
  const meter = new ProcessMeter([proc]).start();
  try {
    const readyAt = ready.then(
      () => Date.now(),
      () => NaN,
    );
    // CPU is counted from the first orders on, so the worker's start-up is left out.
    const watch = await watchOrders(b.storage.db, saleId, filled.admitted, proc, () => meter.restartCpu());
    const { rssMb: rss, cpuMs } = meter.stop();
    const seconds = (watch.doneAt - watch.firstAt) / 1000;
    const dbRate = await dbSpanRate(b.storage.db, saleId);
    // All orders landed before a second poll: only PostgreSQL's own timestamps can time it.
    const ordersPerSec = seconds > 0 ? Math.round((filled.admitted - watch.firstSeen) / seconds) : (dbRate ?? 0);
    const record: DrainRecord = {
      batchSize,
      round,
      saleId,
      jobs: filled.admitted,
      prefill: { jobs: filled.jobs, reqPerSec: filled.reqPerSec, statusCounts: filled.statusCounts, apiRssMb: filled.apiRssMb },
      ordersPerSec,
      dbSpanOrdersPerSec: dbRate,
      firstSeenOrders: watch.firstSeen,
      seconds: round1(seconds),
      workerStartMs: (await readyAt) - spawnedAt,
      workerMaxRssMb: rss.worker ?? 0,
      workerCpuUsPerOrder: cpuPer(cpuMs, filled.admitted - watch.firstSeen).worker ?? NaN,
      avgBatch: await averageBatch(b.storage.db, saleId),
      purchases: await purchaseStatuses(b.storage.db, saleId),
    };
    const batch = String(batchSize).padStart(3);
    log(`drain round ${round} batch ${batch}: ${record.ordersPerSec} orders/s (${record.jobs} jobs, db span ${dbRate ?? 'n/a'}/s)`);
    return record;
  } finally {
    meter.stop();
    await stopProcess(proc);
  }
}

// ---------------------------------------------------------------------------------------------
// Summary, ratios, targets, output
// ---------------------------------------------------------------------------------------------

const round1 = (x: number) => Math.round(x * 10) / 10;
const round2 = (x: number) => Math.round(x * 100) / 100;


type ScenarioSummary = {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxRssMb: number;
  workerMaxRssMb?: number;
  /** Median CPU µs per response, per process. */
  cpuUsPerReq: Record<string, number>;
  /** Admitting: median purchases per worker transaction. */
  workerAvgBatch?: number;
  expected: number;
  unexpected: number;
  statusCounts: Record<string, number>;
  tokensWrapped: boolean;
};

function sumCounts(records: RunRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [code, n] of Object.entries(r.statusCounts)) out[code] = (out[code] ?? 0) + n;
  return out;
}

function summarize(records: RunRecord[], serverName: string): ScenarioSummary {
  const workerRss = records.flatMap((r) => (r.rssMb.worker !== undefined ? [r.rssMb.worker] : []));
  return {
    reqPerSec: Math.round(median(records.map((r) => r.reqPerSec))),
    p50Ms: median(records.map((r) => r.p50Ms)),
    p99Ms: median(records.map((r) => r.p99Ms)),
    maxRssMb: Math.max(...records.map((r) => r.rssMb[serverName] ?? 0)),
    ...(workerRss.length ? { workerMaxRssMb: Math.max(...workerRss) } : {}),
    cpuUsPerReq: Object.fromEntries(Object.keys(records[0]?.cpuUsPerReq ?? {}).map((n) => [n, median(records.map((r) => r.cpuUsPerReq[n] ?? NaN))])),
    ...(records.some((r) => r.workerAvgBatch != null) ? { workerAvgBatch: median(records.map((r) => r.workerAvgBatch ?? NaN)) } : {}),
    expected: records.reduce((a, r) => a + r.expected, 0),
    unexpected: records.reduce((a, r) => a + r.unexpected, 0),
    statusCounts: sumCounts(records),
    tokensWrapped: records.some((r) => r.tokensWrapped),
  };
}

type DrainSummary = {
  ordersPerSec: number;
  jobs: number;
  maxRssMb: number;
  rejected: number;
  workerCpuUsPerOrder: number;
  avgBatch: number;
};

function summarizeDrain(records: DrainRecord[]): DrainSummary {
  return {
    ordersPerSec: Math.round(median(records.map((r) => r.ordersPerSec))),
    jobs: records[0]?.jobs ?? 0,
    maxRssMb: Math.max(...records.map((r) => r.workerMaxRssMb)),
    rejected: records.reduce((a, r) => a + (r.purchases.rejected ?? 0), 0),
    workerCpuUsPerOrder: median(records.map((r) => r.workerCpuUsPerOrder)),
    avgBatch: median(records.map((r) => r.avgBatch ?? NaN)),
  };
}

type Ratios = { admitVsHello: number; soldoutVsHello: number; admitVsNaive: number; drainVsBatch1: number };

function ratiosOf(s: Record<ScenarioId, ScenarioSummary>, drain: DrainSummary, drain1: DrainSummary): Ratios {
  return {
    admitVsHello: round2(s.admit.reqPerSec / s.hello.reqPerSec),
    soldoutVsHello: round2(s.soldout.reqPerSec / s.hello.reqPerSec),
    admitVsNaive: round2(s.admit.reqPerSec / s.naive.reqPerSec),
    drainVsBatch1: round2(drain.ordersPerSec / drain1.ordersPerSec),
  };
}

/** The same ratios inside each round: both sides ran seconds apart. */
function perRoundRatios(runs: RunRecord[], rounds: number): Record<string, number>[] {
  return Array.from({ length: rounds }, (_, i) => {
    const rps = (s: ScenarioId) => runs.find((r) => r.round === i + 1 && r.scenario === s)?.reqPerSec ?? NaN;
    return {
      round: i + 1,
      admitVsHello: round2(rps('admit') / rps('hello')),
      soldoutVsHello: round2(rps('soldout') / rps('hello')),
      admitVsNaive: round2(rps('admit') / rps('naive')),
    };
  });
}

function perRoundDrainRatios(drains: { grouped: DrainRecord[]; batch1: DrainRecord[] }): number[] {
  return drains.grouped.map((d, i) => round2(d.ordersPerSec / (drains.batch1[i]?.ordersPerSec ?? NaN)));
}

type TargetCheck = { target: string; value: number; pass: boolean; note?: string };

function checkTargets(s: Record<ScenarioId, ScenarioSummary>, ratios: Ratios, apiRssMb: number, connections: number): TargetCheck[] {
  const at100 = connections === 100 ? undefined : `measured at ${connections} connections, the target is stated at 100`;
  return [
    { target: `admitting >= ${TARGETS.admitVsHello}x bare Express`, value: ratios.admitVsHello, pass: ratios.admitVsHello >= TARGETS.admitVsHello },
    {
      target: `admitting p99 <= ${TARGETS.admitP99Ms} ms at 100 connections`,
      value: s.admit.p99Ms,
      pass: s.admit.p99Ms <= TARGETS.admitP99Ms,
      ...(at100 ? { note: at100 } : {}),
    },
    {
      target: `sold-out >= ${TARGETS.soldoutVsHello}x bare Express`,
      value: ratios.soldoutVsHello,
      pass: ratios.soldoutVsHello >= TARGETS.soldoutVsHello,
    },
    { target: `admitting >= ${TARGETS.admitVsNaive}x naive`, value: ratios.admitVsNaive, pass: ratios.admitVsNaive >= TARGETS.admitVsNaive },
    { target: `drain >= ${TARGETS.drainVsBatch1}x batch-1 worker`, value: ratios.drainVsBatch1, pass: ratios.drainVsBatch1 >= TARGETS.drainVsBatch1 },
    { target: `API RSS <= ${TARGETS.apiRssMb} MB`, value: apiRssMb, pass: apiRssMb <= TARGETS.apiRssMb },
  ];
}

function statusNote(s: ScenarioSummary, expectedStatus: number, serverName: string): string {
  const others = Object.entries(s.statusCounts).filter(([code]) => code !== String(expectedStatus));
  const parts = [`${expectedStatus}: ${s.expected}`, others.length ? `other: ${others.map(([c, n]) => `${c}×${n}`).join(' ')}` : 'other: 0'];
  if (s.unexpected > others.reduce((a, [, n]) => a + n, 0)) parts.push('connection errors/timeouts: see results.json');
  if (s.tokensWrapped) parts.push('token pool wrapped');
  const cpu = (name: string) => s.cpuUsPerReq[name];
  parts.push(`CPU µs/req: server ${cpu(serverName)}${cpu('worker') !== undefined ? `, worker ${cpu('worker')}` : ''}, loadgen ${cpu('loadgen')}`);
  if (s.workerMaxRssMb !== undefined) parts.push(`worker RSS ${s.workerMaxRssMb} MB`);
  if (s.workerAvgBatch !== undefined) parts.push(`worker ${s.workerAvgBatch} orders/transaction`);
  return parts.join('; ');
}

type Report = {
  s: Record<ScenarioId, ScenarioSummary>;
  dGrouped: DrainSummary;
  d1: DrainSummary;
  ratios: Ratios;
  /** The same ratios within each round (a and b and c of one round ran back to back). */
  byRound: Record<string, number>[];
  drainByRound: number[];
  checks: TargetCheck[];
};

/** `min–max` of one ratio across rounds, or the single value. */
function spread(values: number[]): string {
  const ok = values.filter((v) => Number.isFinite(v));
  if (ok.length === 0) return '–';
  const lo = Math.min(...ok);
  const hi = Math.max(...ok);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

const drainNote = (d: DrainSummary) =>
  `${d.jobs} jobs pre-filled over HTTP; rejected ${d.rejected}; ${d.avgBatch} orders/transaction; worker CPU ${d.workerCpuUsPerOrder} µs/order`;

function markdown({ s, dGrouped, d1, ratios, byRound, drainByRound, checks }: Report, opts: Options): string {
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    `Median of ${opts.rounds} interleaved round(s), ${opts.duration} s each after ${opts.warmup} s warm-up, ${opts.connections} connections.`,
    '',
    row(['scenario', 'req/s', 'p50 ms', 'p99 ms', 'max RSS MB', 'notes']),
    row(['---', '---:', '---:', '---:', '---:', '---']),
    ...SCENARIOS.map((id) => {
      const x = s[id];
      return row([LABEL[id], x.reqPerSec, x.p50Ms, x.p99Ms, x.maxRssMb, statusNote(x, EXPECTED_STATUS[id], SERVER_OF[id])]);
    }),
    row([`(d) worker drain, group commit (batch ≤ ${WORKER_BATCH_DEFAULTS.size})`, `${dGrouped.ordersPerSec} orders/s`, '–', '–', dGrouped.maxRssMb, drainNote(dGrouped)]),
    row(['(d) worker drain, batch 1', `${d1.ordersPerSec} orders/s`, '–', '–', d1.maxRssMb, drainNote(d1)]),
    '',
    row(['ratio', 'value (of medians)', 'by round']),
    row(['---', '---:', '---:']),
    row(['b_admit / a', ratios.admitVsHello, spread(byRound.map((r) => r.admitVsHello!))]),
    row(['b_soldout / a', ratios.soldoutVsHello, spread(byRound.map((r) => r.soldoutVsHello!))]),
    row(['b_admit / c', ratios.admitVsNaive, spread(byRound.map((r) => r.admitVsNaive!))]),
    row(['drain group commit / batch 1', ratios.drainVsBatch1, spread(drainByRound)]),
    '',
    row(['target', 'measured', 'result']),
    row(['---', '---:', '---']),
    ...checks.map((c) => row([c.target, c.value, `${c.pass ? 'PASS' : 'FAIL'}${c.note ? ` (${c.note})` : ''}`])),
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

/** Enough shoppers that an admitting run never meets one twice (about 33k req/s for 6 s). */
function shopperCount(opts: Options): number {
  return Math.min(1_000_000, Math.max(200_000, (opts.warmup + opts.duration) * 33_000, opts.drainJobs, opts.drainJobsBatch1));
}

async function startStack(storage: Storage, opts: Options): Promise<Bench> {
  const secret = randomBytes(16).toString('hex');
  const admin = signToken({ sub: 'bench-admin', role: 'admin' }, secret, TOKEN_TTL_S);
  const started = Date.now();
  const shoppers = mintShopperHeaders(secret, shopperCount(opts));
  log(`minted ${shoppers.length} shopper tokens in ${Date.now() - started} ms`);

  const env = childEnv(secret, QUEUE_NAME);
  const worker = spawnWorker(secret);
  const [hello, engine, naive] = await Promise.all([
    startServer('hello', 'bench/servers/hello.ts', env),
    // The engine's API runs with the flags it ships with (as in the Dockerfile); hello and
    // naive run with Node's defaults.
    startServer('engine', 'bench/servers/engine.ts', env, API_NODE_FLAGS),
    startServer('naive', 'bench/servers/naive.ts', env),
    worker.ready,
  ]);
  const where = (name: string, s: Server) => `${name} ${s.url} (pid ${s.proc.pid})`;
  const attached = await storage.queue.getWorkersCount();
  log(`started ${where('hello', hello)}, ${where('engine', engine)}, ${where('naive', naive)}, ` +
    `worker pid ${worker.proc.pid} (${attached} attached to queue ${QUEUE_NAME})`);
  const soldOutSaleId = await soldOutSale(engine, admin, secret, storage.queue);
  return { opts, secret, admin, shoppers, storage, hello, engine, naive, worker: worker.proc, soldOutSaleId };
}

async function runHttpRounds(b: Bench): Promise<RunRecord[]> {
  const runs: RunRecord[] = [];
  for (let round = 1; round <= b.opts.rounds; round++) {
    for (const scenario of RUN_ORDER) runs.push(await measure(b, scenario, round));
  }
  return runs;
}

async function runDrainRounds(b: Bench): Promise<{ grouped: DrainRecord[]; batch1: DrainRecord[] }> {
  const grouped: DrainRecord[] = [];
  const batch1: DrainRecord[] = [];
  for (let round = 1; round <= b.opts.drainRounds; round++) {
    grouped.push(await drainOnce(b, WORKER_BATCH_DEFAULTS.size, b.opts.drainJobs, round));
    batch1.push(await drainOnce(b, 1, b.opts.drainJobsBatch1, round));
  }
  return { grouped, batch1 };
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
  const storage = await openStorage();
  try {
    const machine = await machineInfo(storage);
    log(`machine: ${machine.cpus} × ${machine.model}, node ${machine.node}, load ${JSON.stringify(machine.loadavgAtStart)}`);
    const b = await startStack(storage, opts);
    await smokeCheck(b);
    const idleRssMb = idleRss(b);
    const runs = await runHttpRounds(b);
    if (b.worker) await stopProcess(b.worker); // (d) needs a queue nobody drains
    b.worker = undefined;
    const drains = await runDrainRounds(b);
    const errorLines = { ...errorLinesOf(b) };

    const summaries = Object.fromEntries(
      SCENARIOS.map((id) => [id, summarize(runs.filter((r) => r.scenario === id), SERVER_OF[id])]),
    ) as Record<ScenarioId, ScenarioSummary>;
    const dGrouped = summarizeDrain(drains.grouped);
    const d1 = summarizeDrain(drains.batch1);
    const ratios = ratiosOf(summaries, dGrouped, d1);
    const prefillRss = [...drains.grouped, ...drains.batch1].map((d) => d.prefill.apiRssMb);
    const apiRssMb = Math.max(summaries.admit.maxRssMb, summaries.soldout.maxRssMb, ...prefillRss);
    const checks = checkTargets(summaries, ratios, apiRssMb, opts.connections);
    const byRound = perRoundRatios(runs, opts.rounds);
    const drainByRound = perRoundDrainRatios(drains);
    const table = markdown({ s: summaries, dGrouped, d1, ratios, byRound, drainByRound, checks }, opts);

    const results = {
      machine: { ...machine, loadavgAtEnd: os.loadavg().map(round1) },
      options: { ...opts, nodeOptions: process.env.BENCH_NODE_OPTIONS ?? '', engineNodeFlags: API_NODE_FLAGS },
      runs,
      drain: drains,
      medians: { ...summaries, drainGrouped: dGrouped, drainBatch1: d1 },
      ratios,
      perRoundRatios: byRound,
      perRoundDrainRatios: drainByRound,
      apiMaxRssMb: apiRssMb,
      idleRssMb,
      targets: checks,
      errorLogLines: errorLines,
      markdown: table,
    };
    fs.writeFileSync(RESULTS_PATH, `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`${table}\n`);
    log(`wrote ${path.relative(process.cwd(), RESULTS_PATH)}`);
  } finally {
    await stopAll();
    await closeStorage(storage);
  }
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
  const budgetS = 300 + opts.rounds * SCENARIOS.length * perRunS + opts.drainRounds * 2 * 300;
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
