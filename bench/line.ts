/**
 * The waiting room's cost (issue 15, item 10): `npx tsx bench/line.ts [--line 20000] [--duration 5]`.
 * Starts a private redis-server and the API (its own process, `src/api.ts` under tsx) on a
 * database of its own (flashsale_bench_line), fills a paused line, then measures:
 *   joins      POST /api/sales/:id/line, each a new shopper
 *   fresh      GET  /api/sales/:id/line, each shopper once (every poll reads Redis)
 *   early      GET  the same, 500 shoppers round and round (answered from the API's memory)
 * with the API's CPU per request, Redis CPU and script µs per request (INFO on the private
 * server), and compares a 100,000-shopper line polling at the server's pace (pollAfterMs
 * from state.ts, at 50 turns a second) with the sold-out stampede of bench/results.json.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { signToken } from '../src/modules/auth/tokens';
import { prepareDatabase } from '../src/lib/migration-source';
import { lineStateOf, POLL_MAX_MS, RoomRead } from '../src/modules/waiting-room/state';
import { call, createSale, expectStatus } from '../tools/client';
import { figures, runLoad } from './harness/load';
import { cpuPer, ProcessMeter } from './harness/meter';
import { Proc, startRedisServer, stopProcess } from './harness/processes';
import { mintShopperHeaders, TokenCursor } from './harness/tokens';

const log = (s: string) => process.stderr.write(`[bench line] ${s}\n`);

/** Where the phase writes its summary (npm run bench reads it into bench/results.json as `waitingRoom`). */
export const LINE_RESULTS_PATH = path.join(__dirname, '..', 'artifacts', 'bench-line.json');
export type LineSummary = { line100k: { pollsPerSecAtServerPace: number; cores: number }; soldOutStampede: { cores: number }; verdict: string } & Record<string, unknown>;
const DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/flashsale_bench_line';

async function redisUsage(r: Redis): Promise<{ cpuMs: number; evalUsec: number; evalCalls: number }> {
  const cpu = await r.info('cpu');
  const stats = await r.info('commandstats');
  const f = (re: RegExp, text: string) => Number(re.exec(text)?.[1] ?? 0);
  const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
  return {
    cpuMs: (f(/used_cpu_user:([\d.]+)/, cpu) + f(/used_cpu_sys:([\d.]+)/, cpu)) * 1000,
    evalCalls: Number(evalsha?.[1] ?? 0),
    evalUsec: Number(evalsha?.[2] ?? 0),
  };
}

/** Polls per second a line of `n` shoppers sends when each polls at its pollAfterMs (turns at `rate`/s). */
export function pacedPollsPerSecond(n: number, rate: number): number {
  const now = Date.now();
  let sum = 0;
  for (let rank = 0; rank < n; rank++) {
    const r: RoomRead = {
      rank, cursor: 0, total: n, passExpiresAtMs: -1, remaining: n, startsAt: now - 1000, endsAt: now + 3600_000, cancelled: false, enabled: true,
      paused: false, admitPerSecond: rate, outstandingPasses: 0, admitted: 0, admittedUnits: 0, perUserLimit: 1, passSeconds: 60, margin: 0,
    };
    sum += 1000 / lineStateOf(r, { saleId: '', placeId: '' }, now).pollAfterMs;
  }
  return sum;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { line: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' } } });
  const lineSize = Number(values.line ?? 20_000);
  const duration = Number(values.duration ?? 5);
  const connections = Number(values.connections ?? 50);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-line-'));
  const redisServer = await startRedisServer(dir);
  const secret = `bench-line-${Date.now()}-0123456789abcdef`;
  let api: Proc | undefined;
  try {
    await prepareDatabase(DATABASE_URL);
    const env = {
      ...process.env, NODE_ENV: 'production', JWT_SECRET: secret, DATABASE_URL, REDIS_URL: `redis://127.0.0.1:${redisServer.port}`, HOST: '127.0.0.1', PORT: '0',
      LOG_LEVEL: 'error', RATE_LIMIT_USER_PER_MIN: '0', RATE_LIMIT_IP_PER_MIN: '0', LINE_JOIN_IP_PER_MIN: '0', SEED_DEMO: 'false', REDIS_PREFIX: 'benchline',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'src', 'api.ts')], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise<string>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).on('line', (l) => {
        const m = /API_READY url=(\S+)/.exec(l);
        if (m) resolve(m[1]!);
      });
      child.once('exit', () => reject(new Error('the API exited')));
    });
    api = { name: 'api', child, pid: child.pid!, exited: new Promise((r) => child.once('exit', () => r())), tail: [], errorLines: 0 };
    const admin = signToken({ sub: 'bench-admin', role: 'admin' }, secret);
    const { saleId } = await createSale(url, admin, { stock: 1_000_000, perUserLimit: 1, listed: false });
    expectStatus(await call(url, 'PUT', `/api/admin/sales/${saleId}/waiting-room`, { token: admin, body: { enabled: true, paused: true, admitPerSecond: 50 } }), 200, 'room');
    const headers = mintShopperHeaders(secret, lineSize);
    const redis = new Redis(`redis://127.0.0.1:${redisServer.port}`);
    const lineUrl = `${url}/api/sales/${saleId}/line`;

    const measure = async (what: string, method: 'GET' | 'POST', tokens: TokenCursor, length: { amount: number } | { warmupS: number; durationS: number }, status: number) => {
      const before = await redisUsage(redis);
      const meter = new ProcessMeter([api!, redisServer.proc]).start();
      const sample = await runLoad({ url: lineUrl, method, tokens }, connections, length, { onOpen: () => meter.restartCpu(), onClose: () => meter.stopCpu() });
      const { cpuMs } = meter.stop();
      const after = await redisUsage(redis);
      const f = figures(sample, status);
      const per = cpuPer(cpuMs, f.responses);
      const row = {
        what, reqPerSec: f.reqPerSec, p50Ms: f.p50Ms, p99Ms: f.p99Ms, unexpected: f.unexpected, apiCpuUsPerReq: per.api, redisCpuUsPerReq: per.redis,
        scriptUsPerReq: Math.round(((after.evalUsec - before.evalUsec) / Math.max(1, f.responses)) * 10) / 10,
        scriptsPerReq: Math.round(((after.evalCalls - before.evalCalls) / Math.max(1, f.responses)) * 100) / 100,
        pollsPerSecPerCore: per.api ? Math.round(1e6 / per.api) : null,
        tokensWrapped: tokens.wrapped,
      };
      log(JSON.stringify(row));
      return row;
    };
    const joins = await measure('joins', 'POST', new TokenCursor(headers), { amount: lineSize }, 201);
    // A join's answer is remembered until its pollAfterMs (the line is paused: the max): wait it out, so each poll below reads Redis.
    log(`waiting ${POLL_MAX_MS / 1000 + 1} s for the joins' answers to age out of the API's memory`);
    await new Promise((r) => setTimeout(r, POLL_MAX_MS + 1000));
    const fresh = await measure('fresh polls', 'GET', new TokenCursor(headers), { amount: lineSize }, 200);
    const early = await measure('early polls', 'GET', new TokenCursor(headers.slice(0, 500)), { warmupS: 1, durationS: duration }, 200);
    await redis.quit();

    const paced = pacedPollsPerSecond(100_000, 50);
    const results = JSON.parse(fs.readFileSync(path.join(__dirname, 'results.json'), 'utf8')) as { medians: { soldout: { reqPerSec: number; cpuUsPerReq: { engine: number } } } };
    const so = results.medians.soldout;
    const lineCores = (paced * (fresh.apiCpuUsPerReq! + (fresh.redisCpuUsPerReq ?? 0))) / 1e6;
    const stampedeCores = (so.reqPerSec * so.cpuUsPerReq.engine) / 1e6;
    const summary = {
      joins, fresh, early,
      line100k: { pollsPerSecAtServerPace: Math.round(paced), cores: Math.round(lineCores * 100) / 100 },
      soldOutStampede: { reqPerSec: so.reqPerSec, engineCpuUsPerReq: so.cpuUsPerReq.engine, cores: Math.round(stampedeCores * 100) / 100, from: 'bench/results.json medians' },
      verdict: lineCores <= stampedeCores ? 'a 100k line at the server pace costs no more than the stampede' : 'a 100k line at the server pace costs MORE than the stampede',
    };
    fs.mkdirSync(path.dirname(LINE_RESULTS_PATH), { recursive: true });
    fs.writeFileSync(LINE_RESULTS_PATH, JSON.stringify(summary, null, 2));
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    if (api) {
      api.child.kill('SIGTERM');
      await api.exited;
    }
    await stopProcess(redisServer.proc);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
