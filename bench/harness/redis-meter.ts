/**
 * Redis's own cost of a phase (admitting + its drain, or a pre-fill + drain): the
 * redis-server's CPU (INFO cpu, used_cpu_user + used_cpu_sys), every command it ran (INFO
 * commandstats: calls and usec per command name, including those Lua scripts run inside
 * themselves), and what the engine's processes sent (the census, servers/redis-census.ts:
 * EVALSHA by script). Deltas from start() to stop(); the bench's own commands (INFO, the
 * sampler, its queue polls) are taken out of the counts.
 *
 * Execution time per sent command, by script: commandstats has one EVALSHA line for all
 * scripts, and its usec is wall-clock (a redis-server preempted inside a command counts the
 * wait: on this busy 2-core box commandstats can sum to more than the process's CPU). So on
 * the bench's private redis-server a sampler turns SLOWLOG on (threshold 0) for
 * SAMPLE_ON_MS of every SAMPLE_EVERY_MS (10% of the time) and keeps each sent command's own duration, by
 * script for EVALSHA. SLOWLOG also logs every command a script runs, inside the script's
 * own duration: the entries Lua made (client `?:0`) just before an EVALSHA entry are that
 * call's inner commands; their count is kept (commands per call) and their logging cost
 * (`entryUs`, measured at start() with a TIME-bracketed Lua loop, SLOWLOG on vs off) is
 * taken off the script's duration. A duration over 5× its command's median (+50 µs) is
 * taken for a preemption and left out of the mean. The sampler's own cost (entries logged
 * × entryUs, plus freeing them) is in the CPU figure; the report says how much. On a shared
 * Redis nothing is sampled (no CONFIG SET on someone else's server).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { CensusCounts, censusCounts, CensusDump, installCensus, WITH_SUBCOMMAND } from '../servers/redis-census';
import { sleep } from './context';

export const SAMPLE_EVERY_MS = 500;
export const SAMPLE_ON_MS = 50;
const SLOWLOG_MAX_LEN = 16_384;
/** Inner calls of the calibration script, and pairs of runs of it (SLOWLOG off, then on). */
const CALIBRATION_CALLS = 4000;
const CALIBRATION_PAIRS = 7;
const CALIBRATION_LUA = `local t = redis.call('TIME')
for i = 1, tonumber(ARGV[1]) do redis.call('PTTL', KEYS[1]) end
local u = redis.call('TIME')
return (tonumber(u[1]) - tonumber(t[1])) * 1000000 + tonumber(u[2]) - tonumber(t[2])`;
const CENSUS_WAIT_MS = 5000;
const MAX_SAMPLES = 20_000;

type SampledCall = { usec: number; inner: number; args: number };

/**
 * The calls that were not preempted: over 5× the median cost per argument (× its own
 * arguments, + 50 µs) is a wait, not work (per argument, so a big batch is not taken for one).
 */
function robust(calls: SampledCall[]): Sampled {
  const perArg = calls.map((c) => c.usec / Math.max(1, c.args)).sort((a, b) => a - b);
  const median = perArg[Math.floor(perArg.length / 2)] ?? 0;
  const kept = calls.filter((c) => c.usec <= 5 * median * Math.max(1, c.args) + 50);
  const sum = (f: (c: SampledCall) => number) => kept.reduce((a, c) => a + f(c), 0);
  return { samples: calls.length, kept: kept.length, usec: Math.round(sum((c) => c.usec)), inner: sum((c) => c.inner), args: sum((c) => c.args) };
}

/** Arguments after the command name; SLOWLOG keeps 31 and ends with "... (N more arguments)". */
function argCount(argv: string[]): number {
  const more = /^\.\.\. \((\d+) more arguments\)$/.exec(argv[argv.length - 1] ?? '');
  return more ? argv.length - 2 + Number(more[1]) : argv.length - 1;
}

type SlowlogEntry = [number, number, number, string[], string, string];
/** The bench's own connection (storage.ts): its slowlog entries are not the engine's. */
const BENCH_CLIENT_NAME = 'fs-bench';

export type CallsUsec = { calls: number; usec: number };
/**
 * SLOWLOG sample of one sent command (or script): calls sampled, calls kept (not
 * preempted), and over the kept calls: their duration (µs, the logging of their inner
 * commands taken off), the commands Lua ran inside them, and their arguments (after the
 * command name; SLOWLOG says how many it cut off).
 */
export type Sampled = { samples: number; kept: number; usec: number; inner: number; args: number };

/** One phase's totals (summed over rounds by the report, then divided by purchases). */
export type RedisTotals = {
  purchases: number;
  seconds: number;
  /** redis-server CPU, user + system, µs. */
  cpuUs: number;
  /** INFO commandstats deltas by command name (EVAL folded into EVALSHA), the bench's own calls removed. */
  server: Record<string, CallsUsec>;
  /** Commands the engine's processes sent, by the server's name (census). */
  sent: Record<string, number>;
  /** EVALSHA/EVAL the engine's processes sent, by script name (census). */
  scripts: Record<string, number>;
  /** Arguments the engine's processes sent, by script name for EVALSHA, else by command (census). */
  args: Record<string, number>;
  /** SLOWLOG sample of the sent commands, by script name for EVALSHA, else by command (empty on a shared Redis). */
  sampled: Record<string, Sampled>;
  sampleWindows: number;
  /** SLOWLOG entries the sampler made Redis log (inner ones included), and the measured cost of one, µs. */
  sampleEntries: number;
  entryUs: number;
};

export type RedisMeterOpts = {
  /** The bench's connection (storage.redis, connection name fs-bench). */
  redis: Redis;
  /** Our own redis-server: the sampler may CONFIG SET it. */
  privateServer: boolean;
  censusDir: string;
};

installCensus(); // the bench's own commands, to take them out of the server's counts

function parseCommandstats(info: string): Record<string, CallsUsec> {
  const out: Record<string, CallsUsec> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    const name = m[1] === 'eval' ? 'evalsha' : m[1]!;
    const prev = out[name] ?? { calls: 0, usec: 0 };
    out[name] = { calls: prev.calls + Number(m[2]), usec: prev.usec + Number(m[3]) };
  }
  return out;
}

function parseCpuUs(info: string): number {
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return Math.round((field('used_cpu_user') + field('used_cpu_sys')) * 1e6);
}

const minus = (a: Record<string, number>, b: Record<string, number> = {}) =>
  Object.fromEntries(Object.keys(a).map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)]).filter(([, v]) => v !== 0));

function addInto(into: Record<string, number>, from: Record<string, number>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** Asks each census process for its counts (SIGUSR2) and waits for the file to say so. */
async function readCensus(dir: string, pids: number[]): Promise<Map<number, CensusDump>> {
  const read = (pid: number): CensusDump | undefined => {
    try {
      return JSON.parse(fs.readFileSync(path.join(dir, `${pid}.json`), 'utf8')) as CensusDump;
    } catch {
      return undefined;
    }
  };
  const out = new Map<number, CensusDump>();
  await Promise.all(
    pids.map(async (pid) => {
      const before = read(pid)?.seq ?? 0;
      try {
        process.kill(pid, 'SIGUSR2');
      } catch {
        const last = read(pid); // gone: its last counts are what it sent
        if (last) out.set(pid, last);
        return;
      }
      const deadline = Date.now() + CENSUS_WAIT_MS;
      for (;;) {
        const dump = read(pid);
        if (dump && dump.seq > before) return void out.set(pid, dump);
        if (Date.now() > deadline) throw new Error(`redis census: no counts from pid ${pid} within ${CENSUS_WAIT_MS} ms`);
        await sleep(5);
      }
    }),
  );
  return out;
}

type Snapshot = { at: number; info: string; census: Map<number, CensusDump>; own: CensusCounts };

/** One phase's meter: start() before its load, stop() once its purchases are all decided. */
export class RedisMeter {
  private startSnap: Snapshot | undefined;
  private sampling = false;
  private sampler: Promise<void> | undefined;
  /** Sampled calls (µs with the inner logging taken off, inner commands, arguments), by command name, `evalsha <sha>` for scripts. */
  private readonly slowlog = new Map<string, SampledCall[]>();
  private windows = 0;
  private entries = 0;
  private entryUs = 0;

  constructor(
    private readonly opts: RedisMeterOpts,
    /** The engine's processes (census loaded) at this moment; called at start and at stop. */
    private readonly pids: () => number[],
  ) {}

  private async snapshot(pids: number[]): Promise<Snapshot> {
    const census = await readCensus(this.opts.censusDir, pids);
    const own = censusCounts(); // before our INFO: it is counted on both sides alike
    const info = await this.opts.redis.info('all');
    return { at: Date.now(), info, census, own };
  }

  async start(): Promise<this> {
    if (this.opts.privateServer) {
      await this.opts.redis.config('SET', 'slowlog-max-len', String(SLOWLOG_MAX_LEN));
      this.entryUs = await this.calibrate();
    }
    this.startSnap = await this.snapshot(this.pids());
    if (this.opts.privateServer) {
      this.sampling = true;
      this.sampler = this.sample();
    }
    return this;
  }

  /**
   * What logging one SLOWLOG entry adds inside a script (µs): a Lua loop of PTTLs timed with
   * TIME, SLOWLOG off then on, a few pairs; the median difference. Before the phase (not in its figures).
   */
  private async calibrate(): Promise<number> {
    const r = this.opts.redis;
    const run = async (threshold: string) => {
      await r.config('SET', 'slowlog-log-slower-than', threshold);
      const us = Number(await r.eval(CALIBRATION_LUA, 1, 'fsbench:calibration', CALIBRATION_CALLS));
      await r.config('SET', 'slowlog-log-slower-than', '-1');
      await r.slowlog('RESET');
      return us;
    };
    const diffs: number[] = [];
    for (let i = 0; i < CALIBRATION_PAIRS; i++) diffs.push((await run('0')) - (await run('-1')));
    diffs.sort((a, b) => a - b);
    await r.del('fsbench:calibration');
    return Math.max(0, diffs[Math.floor(diffs.length / 2)]! / CALIBRATION_CALLS);
  }

  /** SLOWLOG at 0 µs for SAMPLE_ON_MS of every SAMPLE_EVERY_MS; keeps the durations of the commands the engine sent. */
  private async sample(): Promise<void> {
    const r = this.opts.redis;
    while (this.sampling) {
      await sleep(SAMPLE_EVERY_MS - SAMPLE_ON_MS);
      if (!this.sampling) break;
      await r.config('SET', 'slowlog-log-slower-than', '0');
      await sleep(SAMPLE_ON_MS);
      await r.config('SET', 'slowlog-log-slower-than', '-1');
      const entries = (await r.call('SLOWLOG', 'GET', String(SLOWLOG_MAX_LEN))) as SlowlogEntry[];
      await r.slowlog('RESET');
      this.windows += 1;
      this.entries += entries.length;
      this.keep(entries.reverse()); // oldest first
    }
  }

  /** Keeps the sent commands' durations; Lua's entries (client ?:0) just before an EVALSHA are its inner calls. */
  private keep(oldestFirst: SlowlogEntry[]): void {
    let inner = 0;
    for (const [, , usec, argv, addr, client] of oldestFirst) {
      if (addr === '?:0') {
        inner += 1;
        continue;
      }
      const ran = inner;
      inner = 0;
      // EVAL (a script's first call on a connection) includes compiling it.
      if (client === BENCH_CLIENT_NAME || !argv[0]) continue;
      const name = argv[0].toLowerCase();
      if (name === 'eval') continue;
      const key = name === 'evalsha' ? `evalsha ${argv[1]?.toLowerCase()}` : WITH_SUBCOMMAND.has(name) && argv[1] ? `${name}|${argv[1].toLowerCase()}` : name;
      const calls = this.slowlog.get(key) ?? [];
      if (calls.length < MAX_SAMPLES) calls.push({ usec: Math.max(0, usec - ran * this.entryUs), inner: ran, args: argCount(argv) });
      this.slowlog.set(key, calls);
    }
  }

  /** Stops the sampler without a reading (the phase failed). */
  abort(): void {
    this.sampling = false;
  }

  async stop(purchases: number): Promise<RedisTotals> {
    const a = this.startSnap;
    if (!a) throw new Error('RedisMeter.stop() before start()');
    this.sampling = false;
    await this.sampler;
    const pids = [...new Set([...a.census.keys(), ...this.pids()])];
    const b = await this.snapshot(pids);

    // The engine's processes: what each sent during the phase (one that started later counts from 0).
    const sent: Record<string, number> = {};
    const scripts: Record<string, number> = {};
    const args: Record<string, number> = {};
    const shas: Record<string, string> = { ...b.own.shas };
    for (const [pid, end] of b.census) {
      const begin = a.census.get(pid);
      addInto(sent, minus(end.calls, begin?.calls));
      addInto(scripts, minus(end.scripts, begin?.scripts));
      addInto(args, minus(end.args, begin?.args));
      Object.assign(shas, end.shas);
    }

    // The server's counts, less what the bench itself sent (its usec in proportion to its calls).
    const own = minus(b.own.calls, a.own.calls);
    const s0 = parseCommandstats(a.info);
    const s1 = parseCommandstats(b.info);
    const server: Record<string, CallsUsec> = {};
    for (const [name, end] of Object.entries(s1)) {
      const begin = s0[name] ?? { calls: 0, usec: 0 };
      const calls = end.calls - begin.calls;
      const mine = Math.min(calls, own[name] ?? 0);
      if (calls - mine <= 0) continue;
      server[name] = { calls: calls - mine, usec: Math.round((end.usec - begin.usec) * (1 - mine / calls)) };
    }

    const sampled: Record<string, Sampled> = {};
    for (const [key, calls] of this.slowlog) {
      const sha = key.startsWith('evalsha ') ? key.slice('evalsha '.length) : undefined;
      sampled[sha ? (shas[sha] ?? `evalsha ${sha.slice(0, 8)}`) : key] = robust(calls);
    }
    return {
      purchases,
      seconds: Math.round((b.at - a.at) / 100) / 10,
      cpuUs: parseCpuUs(b.info) - parseCpuUs(a.info),
      server,
      sent,
      scripts,
      args,
      sampled,
      sampleWindows: this.windows,
      sampleEntries: this.entries,
      entryUs: Math.round(this.entryUs * 1000) / 1000,
    };
  }
}

const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);

/** Per purchase: Redis CPU µs, every command Redis ran, and the commands clients sent. */
export function perPurchase(t: RedisTotals): { cpuUs: number; commands: number; sent: number } {
  const p = Math.max(1, t.purchases);
  return {
    cpuUs: Math.round((10 * t.cpuUs) / p) / 10,
    commands: Math.round((10 * sum(Object.values(t.server).map((c) => c.calls))) / p) / 10,
    sent: Math.round((10 * sum(Object.values(t.sent))) / p) / 10,
  };
}

/** One line for the progress log. */
export function redisLine(t: RedisTotals): string {
  const x = perPurchase(t);
  return `Redis per purchase: ${x.cpuUs} µs CPU, ${x.commands} commands (${x.sent} sent by clients) over ${t.purchases} purchases in ${t.seconds} s`;
}
