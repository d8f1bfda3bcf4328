import { execFile, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { prepareDatabase } from '../../src/lib/migration-source';
import { TEST_DATABASE_URL } from '../env';
import { freePort } from './private-redis';
import { alive } from './processes';

const run = promisify(execFile);

/** Where Debian's PostgreSQL 15 server binaries live (initdb, pg_ctl, postgres). */
export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster of the test's own: `initdb` into a temporary directory owned by the
 * `postgres` OS user, started by `pg_ctl` (as that user, via `runuser`) on a free loopback
 * port with trust auth and fsync off. It can be stopped, started and restarted on the same
 * port and data directory (clients reconnect to the same URL). `destroy()` stops it by
 * `pg_ctl stop -m immediate`, then by the postmaster's PID if anything is left, and removes
 * the directory. Never the shared server on 5432.
 */
export type ThrowawayPostgres = {
  port: number;
  dir: string;
  /** A connection URL for `database` on this cluster (user postgres, trust auth). */
  url: (database: string) => string;
  /** The running postmaster's PID (from postmaster.pid), undefined while it is down. */
  pid: () => number | undefined;
  /** `pg_ctl stop -m <mode>` and wait until it is down. */
  stop: (mode?: 'smart' | 'fast' | 'immediate') => Promise<void>;
  /** `pg_ctl start` and wait until it accepts connections. */
  start: () => Promise<void>;
  /** The end of the server log, for evidence. */
  logTail: () => string;
  destroy: () => Promise<void>;
};

/** Clusters still running, stopped by PID if the test process exits without destroy(). */
const live = new Map<string, () => number | undefined>();

process.once('exit', () => {
  for (const [dir, pid] of live) {
    const p = pid();
    if (p) {
      try {
        process.kill(p, 'SIGQUIT'); // the postmaster's immediate shutdown
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const postgresIds = () => ({
  uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
  gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
});

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const { uid, gid } = postgresIds();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-fault-pg-'));
  fs.chownSync(dir, uid, gid);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  const port = await freePort();
  // As the postgres user, from a directory it may enter.
  const asPostgres = (bin: string, args: string[], timeoutMs = 60_000) =>
    run('runuser', ['-u', 'postgres', '--', path.join(PG_BIN, bin), ...args], { cwd: dir, timeout: timeoutMs });

  const pid = (): number | undefined => {
    try {
      const p = Number(fs.readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return p > 0 && alive(p) ? p : undefined;
    } catch {
      return undefined;
    }
  };
  const serverOptions = `-k ${dir} -p ${port} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100`;
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-l', logFile, '-w', '-t', '30', '-o', serverOptions, 'start']);
  };
  const stop = async (mode: 'smart' | 'fast' | 'immediate' = 'fast') => {
    if (!pid()) return;
    await asPostgres('pg_ctl', ['-D', data, '-w', '-t', '30', '-m', mode, 'stop']);
  };
  const logTail = () => {
    try {
      return fs.readFileSync(logFile, 'utf8').slice(-3000);
    } catch {
      return '(no log)';
    }
  };
  const destroy = async () => {
    try {
      await stop('immediate');
    } catch {
      /* the PID below */
    }
    const left = pid();
    if (left) {
      process.kill(left, 'SIGKILL');
      const until = Date.now() + 5000;
      while (alive(left) && Date.now() < until) await new Promise((r) => setTimeout(r, 50)); // poll period
    }
    live.delete(dir);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  live.set(dir, pid);
  try {
    await asPostgres('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
    await start();
  } catch (err) {
    const tail = logTail();
    await destroy();
    throw new Error(`throwaway PostgreSQL did not start: ${(err as Error).message}\n${tail}`);
  }
  return { port, dir, url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`, pid, stop, start, logTail, destroy };
}

/**
 * A database of the test's own on the suite's PostgreSQL server (5432 unless
 * TEST_DATABASE_URL says otherwise), created and migrated by `prepareDatabase`, dropped
 * (WITH FORCE) by `drop()`. Only that database is ever touched.
 */
export async function scratchDatabase(label: string): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  const name = `${label}_${randomUUID().replace(/-/g, '').slice(0, 10)}`;
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad scratch database name ${name}`);
  const server = new URL(TEST_DATABASE_URL);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const drop = async () => {
    server.pathname = '/postgres';
    const admin = new Client({ connectionString: server.toString() });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  };
  try {
    await prepareDatabase(url.toString());
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  return { name, url: url.toString(), drop };
}
