/**
 * What the bench and the profiler share: where they run (their own database and Redis
 * DB, loopback only), the environment of every child process, the compile step, a
 * process's CPU time, and the admin call that sets up a sale.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createSale as createSaleAs } from '../tools/client';

export const ROOT = path.join(__dirname, '..');
export const HOST = '127.0.0.1';
export const DATABASE_URL = `postgres://postgres@${HOST}:5432/flashsale_bench`;
export const REDIS_URL = `redis://${HOST}:6379/2`;
export const REDIS_PREFIX = 'fsbench';

/** A whole number flag in [min, max]; throws a message naming the flag otherwise. */
export function intFlag(name: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new Error(`--${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return Number(raw);
}

/** Median, rounded to 0.01 so an even count never prints float noise (141.64999999999998). */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return Math.round((s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2) * 100) / 100;
}

/** Environment of every child: a minimal base plus the bench settings, so no stray shell variable leaks in. */
export function childEnv(secret: string, queueName: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = Object.fromEntries(['PATH', 'HOME', 'TMPDIR', 'LANG'].flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])));
  return {
    ...base,
    NODE_ENV: 'production',
    JWT_SECRET: secret,
    LOG_LEVEL: 'error',
    RATE_LIMIT_USER_PER_MIN: '0',
    RATE_LIMIT_IP_PER_MIN: '0',
    SEED_DEMO: 'false',
    QUEUE_NAME: queueName,
    REDIS_PREFIX,
    DATABASE_URL,
    REDIS_URL,
    HOST,
    PORT: '0',
    // Metrics listeners on free ports (the engine serves them in every run, so their cost is in the figures).
    METRICS_PORT: '0',
    WORKER_METRICS_PORT: '0',
    // Node flags for every server alike (e.g. heap sizing), so the comparison stays fair.
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    // Engine settings to compare (e.g. WORKER_CONCURRENCY=20 npm run bench): taken from the bench's own environment.
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => /^(WORKER_|ENQUEUE_|QUEUE_SHARDS$)/.test(e[0]) && e[1] !== undefined)),
    ...extra,
  };
}

/** Starts `node <args>` in the repo root and resolves with the first stdout line matching `ready`. */
export function startChild(args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = buf.split('\n').find((l) => ready.test(l));
      if (m) resolve({ child, line: m });
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}`)));
  });
}

/**
 * Compiles the engine and the bench servers once (`npm run build` output plus
 * bench/servers), so every process runs plain `node dist/...js` as in production:
 * no tsx loader in any measured process (it costs ~30 MB RSS and some CPU).
 */
export function buildCompiled(): void {
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'bench', 'tsconfig.json')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'copy-assets.js')], { cwd: ROOT, stdio: 'inherit' });
}

const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Resident memory of a process now, from /proc/<pid>/status; undefined once it is gone. */
export function readRssMb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined; // the process is gone
  }
}

/** CPU time (user + system) of a process so far, from /proc/<pid>/stat; undefined once it is gone. */
export function readCpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm) ": state is [0], utime [11], stime [12] (clock ticks).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/**
 * A product and an active sale (started a minute ago, six hours long) through the engine's
 * admin API, with the shared client (tools/client.ts); resolves with the sale's id.
 */
export async function createSale(engineUrl: string, admin: string, sale: { name: string; stock: number; perUserLimit: number }): Promise<string> {
  const now = Date.now();
  const created = await createSaleAs(
    engineUrl,
    admin,
    {
      ...sale,
      product: { sku: `BENCH-${randomBytes(6).toString('hex')}`, name: sale.name, priceCents: 1000 },
      startsAt: new Date(now - 60_000).toISOString(),
      endsAt: new Date(now + 6 * 3600_000).toISOString(),
      priceCents: 999,
    },
    10_000,
  );
  return created.saleId;
}
