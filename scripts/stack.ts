/**
 * `npm run stack -- [--api N] [--workers M] [--port P] [--host H]`: the production layout on
 * one machine. Debian's nginx, unprivileged, from a temporary prefix, with the bundled site
 * config (nginx/flashsale.conf, rewritten only where it names its upstream servers, its
 * listen address and its access log) in front of N API processes (loopback only,
 * TRUST_PROXY_HOPS=1) and M worker processes, against the configured PostgreSQL and Redis
 * (DATABASE_URL, REDIS_URL, or a Redis Cluster through REDIS_CLUSTER_NODES: the children get
 * this process's environment). Prints the URL; Ctrl-C stops nginx first (no new requests),
 * then the APIs (requests in flight finish), then the workers (jobs in hand finish).
 *
 * `npm run stack -- --write-compose-conf` regenerates nginx/flashsale.compose.conf from the
 * same source. test/nginx.test.ts starts its stack through `startStack` below.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config';
import { API_NODE_FLAGS } from '../src/config/node-flags';
import { prepareDatabase } from '../src/lib/migration-source';
import { signToken } from '../src/modules/auth/tokens';

const ROOT = path.join(__dirname, '..');
export const SITE_SOURCE = path.join(ROOT, 'nginx', 'flashsale.conf');
export const COMPOSE_CONF = path.join(ROOT, 'nginx', 'flashsale.compose.conf');

// ---------------------------------------------------------------- the site config

/** What a deployment changes in nginx/flashsale.conf; everything else is shipped as written. */
export type SiteTarget = {
  /** `host:port` of each API (the source's server parameters, max_fails etc., are kept). */
  servers: string[];
  /** Arguments of each `listen` line, e.g. `127.0.0.1:8080`. */
  listen: string[];
  /** Path of the access log (its `flashsale` format is kept). */
  accessLog: string;
  /** Comment lines put first. */
  header?: string[];
};

/** The one contiguous run of lines matching `re` between `from` and `to` (line indexes); throws unless there is exactly one. */
function runOf(lines: string[], re: RegExp, from: number, to: number, what: string): [number, number] {
  const hits = lines.map((l, i) => (i >= from && i < to && re.test(l) ? i : -1)).filter((i) => i >= 0);
  if (hits.length === 0) throw new Error(`nginx/flashsale.conf: no ${what} line where expected`);
  if (hits[hits.length - 1]! - hits[0]! !== hits.length - 1) throw new Error(`nginx/flashsale.conf: the ${what} lines are not together`);
  return [hits[0]!, hits.length];
}

/** The line index of the `}` closing the block opened on line `open` (the source's blocks close at their own indentation). */
function blockEnd(lines: string[], open: number): number {
  const indent = /^\s*/.exec(lines[open]!)![0];
  const end = lines.findIndex((l, i) => i > open && l === `${indent}}`);
  if (end < 0) throw new Error(`nginx/flashsale.conf: block at line ${open + 1} is not closed`);
  return end;
}

/**
 * nginx/flashsale.conf with its upstream `server` lines, its `listen` lines and its
 * access_log path replaced, and nothing else changed. Throws when the source no longer
 * has those lines where this expects them (so a reshaped source fails loudly here).
 */
export function siteConf(source: string, target: SiteTarget): string {
  if (target.servers.length === 0 || target.listen.length === 0) throw new Error('siteConf: at least one server and one listen');
  const lines = source.split('\n');
  const upstream = lines.findIndex((l) => /^upstream flashsale_api \{$/.test(l));
  const server = lines.findIndex((l) => /^server \{$/.test(l));
  if (upstream < 0 || server < 0) throw new Error('nginx/flashsale.conf: no `upstream flashsale_api {` or `server {` block');
  const serverLine = /^(\s+)server\s+(\S+?)((?:\s+[a-z_]+=\S+|\s+backup|\s+down)*);$/;
  const listenLine = /^(\s+)listen\s+[^;]+;$/;
  const logLine = /^(\s+)access_log\s+\S+\s+flashsale;$/;

  const [s0, sn] = runOf(lines, serverLine, upstream, blockEnd(lines, upstream), 'upstream server');
  const [, indent, , params] = serverLine.exec(lines[s0]!)!;
  const serverEnd = blockEnd(lines, server);
  const [l0, ln] = runOf(lines, listenLine, server, serverEnd, 'listen');
  const [a0, an] = runOf(lines, logLine, server, serverEnd, 'access_log');
  if (an !== 1) throw new Error('nginx/flashsale.conf: more than one access_log line');
  const logIndent = logLine.exec(lines[a0]!)![1]!;
  const listenIndent = listenLine.exec(lines[l0]!)![1]!;

  // Splice from the bottom up so the indexes above stay right.
  const edits = [
    { at: s0, n: sn, put: target.servers.map((s) => `${indent}server ${s}${params ?? ''};`) },
    { at: l0, n: ln, put: target.listen.map((l) => `${listenIndent}listen ${l};`) },
    { at: a0, n: 1, put: [`${logIndent}access_log ${target.accessLog} flashsale;`] },
  ].sort((a, b) => b.at - a.at);
  for (const e of edits) lines.splice(e.at, e.n, ...e.put);
  return [...(target.header ?? []), ...lines].join('\n');
}

/** nginx/flashsale.compose.conf: the source rewritten for docker-compose.yml. */
export function composeSiteConf(source = fs.readFileSync(SITE_SOURCE, 'utf8')): string {
  return siteConf(source, {
    servers: ['api:3000'],
    listen: ['80'],
    accessLog: '/dev/stdout',
    header: [
      '# GENERATED from nginx/flashsale.conf by `npm run stack -- --write-compose-conf`: do not edit',
      '# (test/nginx.test.ts fails when this file is stale). For docker-compose.yml, it differs',
      '# from the source in three places only: the upstream is the compose service `api:3000`',
      '# (resolved when nginx starts; `docker compose up --scale api=2` gives two servers, and',
      '# after rescaling `docker compose restart nginx`), it listens on port 80 inside the',
      '# container (IPv4), and the access log goes to stdout for `docker compose logs nginx`.',
      '',
    ],
  });
}

/** The nginx.conf of a stack run: unprivileged, everything under `prefix`, the site file included in `http {}`. */
export function nginxMainConf(prefix: string, siteFile: string): string {
  const tmp = (what: string) => `    ${what}_temp_path ${path.join(prefix, 'tmp', what)};`;
  return [
    '# Generated by scripts/stack.ts for one `npm run stack` run; removed when it stops.',
    // One worker: it shares the machine with the APIs, workers, PostgreSQL and Redis, and one
    // nginx worker proxies far more requests than two Node APIs can answer.
    'worker_processes 1;',
    `pid ${path.join(prefix, 'nginx.pid')};`,
    'error_log stderr warn;',
    // A graceful stop (SIGQUIT) waits for open connections; websockets never end by themselves.
    'worker_shutdown_timeout 5s;',
    'events {',
    '    worker_connections 4096;',
    '}',
    'http {',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(tmp),
    '    default_type application/octet-stream;',
    '    access_log off;',
    `    include ${siteFile};`,
    '}',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------- processes

export type StackProcess = { label: string; child: ChildProcess; pid: number; url: string };

export type StackOptions = {
  /** API processes (default 2). */
  apis?: number;
  /** Worker processes (default 1). */
  workers?: number;
  /** nginx's port (default 8080; 0 = a free one). */
  port?: number;
  /** nginx's listen address (default 127.0.0.1). */
  host?: string;
  /** The engine processes' environment (default this process's): DATABASE_URL, REDIS_URL, JWT_SECRET, ... */
  env?: Record<string, string | undefined>;
  /** Extra environment for API number `index` (0-based), e.g. a fault-testing knob; HOST, PORT and TRUST_PROXY_HOPS are the stack's. */
  apiEnv?: (index: number) => Record<string, string>;
  /** Create and migrate the database first, as `npm run migrate` does (default true). */
  migrate?: boolean;
  /** The nginx binary (default $NGINX, else `nginx` on PATH or in /usr/sbin). */
  nginx?: string;
  /** Every line a child writes (default: printed with its label). */
  output?: (label: string, line: string) => void;
  /** A child exited while the stack was up (not during stop()). */
  onExit?: (proc: StackProcess, code: number | null, signal: NodeJS.Signals | null) => void;
};

export type RunningStack = {
  /** nginx's URL: the only address shoppers use. */
  url: string;
  nginx: StackProcess;
  apis: StackProcess[];
  workers: StackProcess[];
  /** The temporary prefix: nginx.conf, the generated site file, logs/ and tmp/. Removed by stop(). */
  prefix: string;
  siteFile: string;
  accessLog: string;
  /** nginx first, then the APIs, then the workers; each SIGKILLed if it overstays its grace. Idempotent. */
  stop: () => Promise<void>;
};

/** Children of every stack in this process, SIGKILLed by PID if this process exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

const gone = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
const exited = (c: ChildProcess) => new Promise<void>((resolve) => (gone(c) ? resolve() : c.once('exit', () => resolve())));

/** `signal`, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopChild(c: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (gone(c)) return;
  const done = exited(c);
  c.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  if ((await Promise.race([done, late])) === 'late') c.kill('SIGKILL');
  clearTimeout(timer);
  await done;
}

/** A TCP port nothing listens on right now on `host`. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function findNginx(explicit?: string): string {
  const candidates = [explicit, process.env.NGINX, ...(process.env.PATH ?? '').split(':').map((d) => d && path.join(d, 'nginx')), '/usr/sbin/nginx', '/usr/local/sbin/nginx'];
  for (const c of candidates) {
    if (!c) continue;
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch {
      /* next */
    }
  }
  throw new Error('nginx not found: install it (Debian: apt-get install -y nginx) or set NGINX=/path/to/nginx');
}

/**
 * Spawns a child in its own process group (so a terminal's Ctrl-C reaches only the stack,
 * which then stops the children in order), passes each output line to `output`, and
 * resolves once a stdout or stderr line matches `ready` (with the match), or rejects when
 * the child exits first or `timeoutMs` passes (the child is then killed).
 */
function spawnReady(
  label: string,
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
  ready: RegExp | null,
  output: (label: string, line: string) => void,
  timeoutMs = 30_000,
): Promise<{ child: ChildProcess; match: RegExpExecArray | null }> {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const tail: string[] = [];
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`${label} was not ready within ${timeoutMs / 1000} s:\n${tail.join('\n')}`)), timeoutMs);
    const finish = (err: Error | null, match: RegExpExecArray | null = null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        if (!gone(child)) child.kill('SIGKILL');
        reject(err);
      } else resolve({ child, match });
    };
    const lines = (stream: NodeJS.ReadableStream) => {
      let pending = '';
      stream.on('data', (d: Buffer) => {
        pending += d.toString();
        const all = pending.split('\n');
        pending = all.pop()!;
        for (const line of all) {
          tail.push(line);
          if (tail.length > 40) tail.shift();
          output(label, line);
          const m = ready?.exec(line);
          if (m) finish(null, m);
        }
      });
    };
    lines(child.stdout!);
    lines(child.stderr!);
    child.once('error', (err) => finish(err));
    child.once('exit', (code, signal) => finish(new Error(`${label} exited (${code ?? signal}) before it was ready:\n${tail.join('\n')}`)));
    if (!ready) setImmediate(() => finish(null));
  });
}

/** Resolves once `url` answers 200, or rejects after `timeoutMs` (or at once when `child` exits). */
async function answers(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone(child)) throw new Error(`nginx exited (${child.exitCode ?? child.signalCode})`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts the stack; everything it started is stopped again if a later step fails. */
export async function startStack(opts: StackOptions = {}): Promise<RunningStack> {
  const apiCount = opts.apis ?? 2;
  const workerCount = opts.workers ?? 1;
  if (!Number.isInteger(apiCount) || apiCount < 1 || !Number.isInteger(workerCount) || workerCount < 1) throw new Error('at least one API and one worker');
  const host = opts.host ?? '127.0.0.1';
  const env = { ...(opts.env ?? process.env) };
  const output = opts.output ?? ((label, line) => process.stdout.write(`[${label}] ${line}\n`));
  const nginxBin = findNginx(opts.nginx);
  // Several APIs and workers on one host: each metrics listener on a free port (the READY lines print them).
  const apiEnv = (i: number) => ({ ...env, ...(opts.apiEnv?.(i) ?? {}), HOST: '127.0.0.1', PORT: '0', TRUST_PROXY_HOPS: '1', METRICS_PORT: '0' });
  const workerEnv = { ...env, WORKER_METRICS_PORT: '0' };
  // Fail here, naming the variable, rather than in N children at once.
  loadConfig(apiEnv(0));
  const config = loadConfig(env);
  if (opts.migrate !== false) await prepareDatabase(config.databaseUrl);

  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'flashsale-stack-'));
  // Run as root, nginx's workers switch to `nobody`: they must reach the prefix (nginx chowns tmp/*).
  fs.chmodSync(prefix, 0o755);
  for (const d of ['logs', 'tmp']) fs.mkdirSync(path.join(prefix, d));
  const started: StackProcess[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      const nginx = started.filter((p) => p.label === 'nginx');
      const apis = started.filter((p) => p.label.startsWith('api-'));
      const workers = started.filter((p) => p.label.startsWith('worker-'));
      // SIGQUIT: nginx's graceful stop (finishes requests in flight, worker_shutdown_timeout bounds it).
      await Promise.all(nginx.map((p) => stopChild(p.child, 'SIGQUIT', 10_000)));
      await Promise.all(apis.map((p) => stopChild(p.child, 'SIGTERM', 15_000)));
      // As pm2's kill_timeout: longer than a job lock, so a worker is never killed mid-commit.
      await Promise.all(workers.map((p) => stopChild(p.child, 'SIGTERM', 40_000)));
      fs.rmSync(prefix, { recursive: true, force: true });
    })());
  const track = (label: string, child: ChildProcess, url = '') => {
    const p: StackProcess = { label, child, pid: child.pid!, url };
    started.push(p);
    child.once('exit', (code, signal) => {
      if (!stopping) opts.onExit?.(p, code, signal);
    });
    return p;
  };

  try {
    const tsx = ['--import', 'tsx'];
    const starting = [
      ...Array.from({ length: apiCount }, async (_, i) => {
        const label = `api-${i + 1}`;
        const { child, match } = await spawnReady(label, process.execPath, [...API_NODE_FLAGS, ...tsx, path.join(ROOT, 'src', 'api.ts')], apiEnv(i), /API_READY url=(\S+)/, output);
        return track(label, child, match![1]!);
      }),
      ...Array.from({ length: workerCount }, async (_, i) => {
        const label = `worker-${i + 1}`;
        const { child } = await spawnReady(label, process.execPath, [...tsx, path.join(ROOT, 'workers', 'purchase-worker.ts')], workerEnv, /WORKER_READY/, output);
        return track(label, child);
      }),
    ];
    // All settled before judging, so that none still starting is missed by stopAll() below.
    const results = await Promise.allSettled(starting);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const apis = started.filter((p) => p.label.startsWith('api-')).sort((a, b) => a.label.localeCompare(b.label, 'en', { numeric: true }));
    const workers = started.filter((p) => p.label.startsWith('worker-')).sort((a, b) => a.label.localeCompare(b.label, 'en', { numeric: true }));

    const siteFile = path.join(prefix, 'flashsale.conf');
    const accessLog = path.join(prefix, 'logs', 'flashsale.access.log');
    const confFile = path.join(prefix, 'nginx.conf');
    const source = fs.readFileSync(SITE_SOURCE, 'utf8');
    let nginx: StackProcess | undefined;
    let url = '';
    // A free port can be taken between the probe and nginx's bind: try again on another.
    for (let tries = 1; !nginx; tries++) {
      const port = opts.port || (await freePort(host));
      const listenOn = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
      url = `http://${listenOn}`;
      const header = [`# Generated by scripts/stack.ts from ${SITE_SOURCE} for one run: do not edit.`, ''];
      fs.writeFileSync(siteFile, siteConf(source, { servers: apis.map((a) => new URL(a.url).host), listen: [listenOn], accessLog, header }));
      fs.writeFileSync(confFile, nginxMainConf(prefix, siteFile));
      const { child } = await spawnReady('nginx', nginxBin, ['-p', prefix, '-c', confFile, '-g', 'daemon off;'], process.env, null, output);
      const candidate = track('nginx', child);
      try {
        await answers(`${url}/api/health/live`, child, 15_000);
        nginx = candidate;
      } catch (err) {
        await stopChild(child, 'SIGKILL', 1000);
        started.splice(started.indexOf(candidate), 1);
        if (opts.port || tries >= 3) throw err;
      }
    }
    return { url, nginx, apis, workers, prefix, siteFile, accessLog, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// ---------------------------------------------------------------- the command

const USAGE = `npm run stack -- [--api N] [--workers M] [--port P] [--host H]
  Starts nginx (nginx/flashsale.conf) in front of N API processes (default 2) and M workers
  (default 1) against DATABASE_URL and REDIS_URL (or REDIS_CLUSTER_NODES); nginx listens on
  H:P (default 127.0.0.1:8080; --port 0 picks a free port). Ctrl-C stops everything.
npm run stack -- --write-compose-conf
  Regenerates nginx/flashsale.compose.conf from nginx/flashsale.conf.`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      api: { type: 'string', default: '2' },
      workers: { type: 'string', default: '1' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      'write-compose-conf': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return void console.log(USAGE);
  if (values['write-compose-conf']) {
    fs.writeFileSync(COMPOSE_CONF, composeSiteConf());
    return void console.log(`wrote ${path.relative(process.cwd(), COMPOSE_CONF)}`);
  }
  const int = (name: string, v: string, min: number) => {
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > 65535) throw new Error(`--${name} must be a whole number >= ${min}\n${USAGE}`);
    return Number(v);
  };
  const opts = { apis: int('api', values.api, 1), workers: int('workers', values.workers, 1), port: int('port', values.port, 0), host: values.host };

  // Set once up; a signal during start-up exits at once (the 'exit' handler SIGKILLs what started).
  const up: { stack?: RunningStack } = {};
  let firstSignalAt = 0;
  const shutdown = (code: number) => {
    process.stdout.write('\nstopping: nginx, then the APIs, then the workers (Ctrl-C again to kill them)\n');
    void (up.stack?.stop() ?? Promise.resolve()).then(
      () => process.exit(code),
      (err: Error) => {
        console.error(err.message);
        process.exit(1);
      },
    );
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      // One Ctrl-C can arrive more than once (npm and tsx relay it to this process as well):
      // only a signal a second or more after the first is "again", which SIGKILLs every child
      // (the 'exit' handler above) and leaves.
      if (!firstSignalAt) {
        firstSignalAt = Date.now();
        shutdown(0);
      } else if (Date.now() - firstSignalAt > 1000) process.exit(130);
    });
  }
  const stack = (up.stack = await startStack({
    ...opts,
    onExit: (p, code, signal) => {
      process.stdout.write(`[stack] ${p.label} (pid ${p.pid}) exited (${code ?? signal})\n`);
      if (p.label === 'nginx') shutdown(1);
    },
  }));
  const config = loadConfig();
  const version = spawnSync(stack.nginx.child.spawnfile, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '');
  const lines = [
    '',
    `Flash-sale stack is up at ${stack.url}`,
    `  nginx     pid ${stack.nginx.pid}  ${version}, conf ${path.join(stack.prefix, 'nginx.conf')}`,
    `            site file generated from nginx/flashsale.conf: ${stack.siteFile}`,
    `            access log: ${stack.accessLog}`,
    ...stack.apis.map((a) => `  ${a.label.padEnd(9)} pid ${a.pid}  ${a.url} (loopback only, TRUST_PROXY_HOPS=1)`),
    ...stack.workers.map((w) => `  ${w.label.padEnd(9)} pid ${w.pid}`),
    `  health:   curl -s ${stack.url}/api/health/ready`,
  ];
  if (config.env !== 'production') {
    const shopper = signToken({ sub: 'stack-shopper' }, config.jwtSecret, 24 * 3600);
    const admin = signToken({ sub: 'stack-admin', role: 'admin' }, config.jwtSecret, 24 * 3600);
    lines.push(`  shop:     ${stack.url}/#token=${shopper}`, `  admin:    ${stack.url}/admin#token=${admin}`);
  } else {
    lines.push('  tokens:   JWT_SECRET=... npm run -s token -- --sub boss --role admin');
  }
  lines.push('  Ctrl-C stops everything.', '');
  process.stdout.write(lines.join('\n') + '\n');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
