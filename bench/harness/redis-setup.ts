/**
 * The bench's Redis and rate limits: where the engine's Redis is (a private redis-server by
 * default, so its figures hold no one else's traffic), and which rate limits the engine
 * runs with (its defaults, the per-IP limit raised: every request comes from one IP).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/config';
import { HOST, REDIS_URL } from '../stack';
import type { Bench, BenchRedis, RateLimits } from './context';
import { log } from './context';
import type { Options } from './options';
import { startRedisServer } from './processes';
import { RedisMeter } from './redis-meter';

/** Per-IP attempts per minute with `--rate-limits on`: the limiter runs, one load generator is never refused. */
const RAISED_IP_LIMIT = 1_000_000_000;

function redisServerVersion(): string | undefined {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined; // not installed
  }
}

/** Starts the bench's own redis-server (or falls back to the shared one, saying so). */
export async function startBenchRedis(opts: Options): Promise<BenchRedis> {
  const censusDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fsbench-census-'));
  if (opts.redis === 'private') {
    const version = redisServerVersion();
    if (version) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fsbench-redis-'));
      const { proc, port } = await startRedisServer(dir);
      log(`private redis-server ${version} on ${HOST}:${port} (pid ${proc.pid}, no persistence)`);
      return {
        url: `redis://${HOST}:${port}`,
        privateServer: true,
        proc,
        dataDir: dir,
        censusDir,
        description: `private redis-server ${version} on port ${port}, no persistence`,
      };
    }
    log('redis-server not found: using the shared Redis (DB 2); its figures include other clients of that server');
  }
  return { url: REDIS_URL, privateServer: false, censusDir, description: `shared Redis ${REDIS_URL}: Redis figures include every other client of that server` };
}

/** Removes the census files and the private server's directory (the server itself is stopped with every other child). */
export function cleanUpBenchRedis(r: BenchRedis): void {
  for (const dir of [r.censusDir, r.dataDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** The engine's rate limits for this run, as environment and as a sentence for the output. */
export function rateLimitsFor(opts: Options): { limits: RateLimits; env: Record<string, string> } {
  if (opts.rateLimits === 'off') {
    return { limits: { userPerMin: 0, ipPerMin: 0, description: 'rate limits off (RATE_LIMIT_*_PER_MIN=0)' }, env: { RATE_LIMIT_USER_PER_MIN: '0', RATE_LIMIT_IP_PER_MIN: '0' } };
  }
  const defaults = loadConfig({});
  const limits: RateLimits = {
    userPerMin: defaults.rateLimitUserPerMin,
    ipPerMin: RAISED_IP_LIMIT,
    description:
      `rate limits on: per shopper ${defaults.rateLimitUserPerMin}/min (the engine's default), per IP raised from ` +
      `${defaults.rateLimitIpPerMin}/min to ${RAISED_IP_LIMIT.toExponential()}/min (one load generator, one IP; the limiter still counts every request, in the API process; the per-shopper count is the gate's)`,
  };
  return { limits, env: { RATE_LIMIT_USER_PER_MIN: String(limits.userPerMin), RATE_LIMIT_IP_PER_MIN: String(limits.ipPerMin) } };
}

/** A Redis meter over the engine's API and worker (plus any process `more()` names at stop time). */
export function redisMeterFor(b: Bench, more: () => number[] = () => []): RedisMeter {
  return new RedisMeter({ redis: b.storage.redis, privateServer: b.redis.privateServer, censusDir: b.redis.censusDir }, () => [
    b.engine.proc.pid,
    ...(b.worker ? [b.worker.pid] : []),
    ...more(),
  ]);
}
