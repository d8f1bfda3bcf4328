/**
 * What the bench and the profiler share: where they run (their own database and Redis
 * DB, loopback only), the environment of every child process, and the compile step.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.join(__dirname, '..');
export const HOST = '127.0.0.1';
export const DATABASE_URL = `postgres://postgres@${HOST}:5432/flashsale_bench`;
export const REDIS_URL = `redis://${HOST}:6379/2`;
export const REDIS_PREFIX = 'fsbench';

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
    // Node flags for every server alike (e.g. heap sizing), so the comparison stays fair.
    ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
    ...extra,
  };
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
