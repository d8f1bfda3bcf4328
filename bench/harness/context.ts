/**
 * What every part of one `npm run bench` run shares: its queue, its constants, the running
 * stack (servers, worker, storage, tokens) and a few small helpers.
 */
import { randomBytes } from 'node:crypto';
import type { Options } from './options';
import type { Proc, Server } from './processes';
import type { Storage } from './storage';

/** Fresh per run: a worker orphaned by a killed earlier run (SIGKILL) never sees this run's jobs. */
export const QUEUE_NAME = `bench-${randomBytes(4).toString('hex')}`;
/** Stock of the admitting and naive sales: big enough never to sell out during a run. */
export const BIG_STOCK = 5_000_000;
export const TOKEN_TTL_S = 4 * 3600;
export const ATTEMPT_BODY = JSON.stringify({ quantity: 1 });

export const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const round1 = (x: number) => Math.round(x * 10) / 10;
export const round2 = (x: number) => Math.round(x * 100) / 100;

/** Where the bench's Redis is: its own redis-server (`proc`), or DB 2 of the shared one. */
export type BenchRedis = { url: string; privateServer: boolean; proc?: Proc; dataDir?: string; censusDir: string; description: string };

/** The rate limits the engine runs with, and why (printed with the results). */
export type RateLimits = { userPerMin: number; ipPerMin: number; description: string };

/** The running bench: its options, secrets, pre-minted shoppers, storage and processes. */
export type Bench = {
  opts: Options;
  /** Environment of every server and worker (childEnv plus the bench's Redis and rate limits). */
  env: NodeJS.ProcessEnv;
  redis: BenchRedis;
  rateLimits: RateLimits;
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

export const attemptsUrl = (server: Server, saleId: string) => `${server.url}/api/sales/${saleId}/purchases`;
export const attemptsPath = (saleId: string) => `/api/sales/${saleId}/purchases`;
