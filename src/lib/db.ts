import knex, { Knex } from 'knex';
import { Client } from 'pg';

export type Db = Knex;

/** Knex's own warnings go to our structured logger instead of console.log. */
type LogSink = { warn: (m: string) => unknown; error: (m: string) => unknown; debug: (m: string) => unknown };

export function createDb(databaseUrl: string, poolMax: number, logger?: LogSink): Db {
  const text = (m: unknown) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m));
  return knex({
    client: 'pg',
    connection: databaseUrl,
    pool: { min: 0, max: poolMax },
    // Fail fast instead of queueing forever when PostgreSQL is down.
    acquireConnectionTimeout: 10_000,
    ...(logger && {
      log: {
        warn: (m: unknown) => logger.warn(`knex: ${text(m)}`),
        error: (m: unknown) => logger.error(`knex: ${text(m)}`),
        deprecate: (m: unknown) => logger.warn(`knex deprecation: ${text(m)}`),
        debug: (m: unknown) => logger.debug(`knex: ${text(m)}`),
      },
    }),
  });
}

/** Creates the database named in the URL when it is missing (first `npm start` / `npm test`). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[a-zA-Z0-9_]+$/.test(name)) throw new Error(`Refusing to create database with unusual name "${name}"`);
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return false;
    try {
      // Identifier cannot be a bind parameter; the name was checked against a strict pattern above.
      await admin.query(`CREATE DATABASE "${name}"`);
    } catch (err) {
      // Two processes racing to create it: the other one won, which is fine.
      if ((err as { code?: string }).code !== '42P04' && (err as { code?: string }).code !== '23505') throw err;
    }
    return true;
  } finally {
    await admin.end();
  }
}

/** PostgreSQL error codes we translate; see http/error-handler.ts. */
export const PgCodes = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  invalidTextRepresentation: '22P02',
} as const;

export function pgCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** SQLSTATEs that mean "PostgreSQL cannot serve now" (shutting down, starting, no slots), plus class 08 (connection). */
const PG_UNAVAILABLE = new Set(['57P01', '57P02', '57P03', '53300', '53400']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);

/** True when an error means PostgreSQL is unreachable or restarting, not that a query is wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: string; message?: string; code?: unknown };
  if (e.name === 'KnexTimeoutError') return true;
  const code = typeof e.code === 'string' ? e.code : '';
  if (PG_UNAVAILABLE.has(code) || code.startsWith('08') || SOCKET_CODES.has(code)) return true;
  return /Connection terminated|terminating connection|the database system is (starting up|shutting down)/i.test(e.message ?? '');
}
