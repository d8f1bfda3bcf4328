import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { RunningApi, startApi } from '../src/api';
import { Config, loadConfig } from '../src/config/config';
import { signToken } from '../src/modules/auth/tokens';
import { RunningWorker, startWorker } from '../src/worker-process';
import { call as clientCall, createSale as createSaleAs, Reply as ClientReply } from '../tools/client';
import { TEST_JWT_SECRET, testEnv } from './env';

/** A config for one test file: its own queue name, so files never share jobs. */
export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv({ QUEUE_NAME: `q-${randomUUID().slice(0, 8)}`, ...overrides }));
}

export const shopperToken = (sub: string) => signToken({ sub }, TEST_JWT_SECRET, 3600);
export const adminToken = () => signToken({ sub: 'admin-1', role: 'admin' }, TEST_JWT_SECRET, 3600);

export type Stack = { api: RunningApi; worker?: RunningWorker; config: Config; stop: () => Promise<void> };

/** Starts the real API (port 0) and, unless told not to, an in-process real worker. */
export async function startStack(config: Config, opts: { worker?: boolean } = {}): Promise<Stack> {
  const api = await startApi(config);
  const worker = opts.worker === false ? undefined : await startWorker(config, api.deps.logger);
  return {
    api,
    worker,
    config,
    stop: async () => {
      await api.stop();
      await worker?.stop();
    },
  };
}

/** A reply as the tests read it: the body loosely typed. */
export type Reply = ClientReply<any>;

/** Real HTTP through fetch (tools/client.ts, shared with the load test and the bench). */
export function call(
  baseUrl: string,
  method: string,
  urlPath: string,
  opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return clientCall<any>(baseUrl, method, urlPath, opts);
}

/** Creates a product and a sale through the admin API, as the admin. */
export function createSale(
  baseUrl: string,
  sale: Partial<{ stock: number; perUserLimit: number; priceCents: number; startsAt: string; endsAt: string; name: string; holdSeconds: number }> = {},
): Promise<{ saleId: string; productId: string }> {
  return createSaleAs(baseUrl, adminToken(), sale);
}

/** Polls until `check` returns a value other than undefined, or fails after the deadline. */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs `tasks` with at most `limit` in flight; resolves with results in order. */
export async function pool<T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  let inFlight = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        inFlight++;
        peak = Math.max(peak, inFlight);
        try {
          results[i] = await tasks[i]!();
        } finally {
          inFlight--;
        }
      }
    }),
  );
  (results as unknown as { peak: number }).peak = peak;
  return results;
}

/** Spawns `npm run start:worker` as a separate OS process and resolves once it is ready. */
export async function spawnWorker(env: Record<string, string>): Promise<ChildProcess> {
  return (await spawnReady(['workers', 'purchase-worker.ts'], env, /WORKER_READY/)).child;
}

/** Spawns `npm run start:api` as a separate OS process; resolves with its URL once it listens. */
export async function spawnApi(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const { child, line } = await spawnReady(['src', 'api.ts'], env, /API_READY url=(\S+)/);
  return { child, url: /API_READY url=(\S+)/.exec(line)![1]! };
}

async function spawnReady(entry: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; line: string }> {
  const root = path.join(__dirname, '..');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, ...entry)], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry.join('/')} did not start: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = ready.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${entry.join('/')} exited with ${code}: ${stderr}`));
    });
  });
  return { child, line };
}

export function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}
