/**
 * The bench's child processes: each server and the worker is `node dist/<script>.js` of its
 * own (compiled first), so its RSS and CPU can be read from /proc; all are stopped at the end.
 */
import { ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { buildCompiled, HOST, ROOT } from '../stack';
import { log, sleep } from './context';
import { freePort } from '../../scripts/stack';

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

export type Proc = {
  name: string;
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  /** Last lines of stdout and stderr, for error messages. */
  tail: string[];
  /** Log lines at level error written after start-up. */
  errorLines: number;
};

const running = new Set<Proc>();

function remember(proc: Proc, line: string): void {
  proc.tail.push(line);
  if (proc.tail.length > 20) proc.tail.shift();
}

export function compile(): void {
  log('compiling to dist/ (tsc) ...');
  buildCompiled();
}

/**
 * Spawns `node dist/<script>.js` and returns at once; `ready` resolves with the
 * first stdout line matching `readyLine`, or rejects if the process exits or times out first.
 */
function spawnScript(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  readyLine: RegExp,
  opts: { ipc: boolean; nodeFlags?: readonly string[] },
): { proc: Proc; ready: Promise<RegExpExecArray> } {
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), path.join(ROOT, 'dist', script.replace(/\.ts$/, '.js'))], {
    cwd: ROOT,
    env,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${name}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proc: Proc = { name, child, pid: child.pid, exited, tail: [], errorLines: 0 };
  running.add(proc);
  void exited.then(() => running.delete(proc));
  readline.createInterface({ input: child.stderr! }).on('line', (line) => remember(proc, `stderr: ${line}`));

  const ready = new Promise<RegExpExecArray>((resolve, reject) => {
    let started = false;
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${START_TIMEOUT_MS} ms:\n${proc.tail.join('\n')}`)), START_TIMEOUT_MS);
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      remember(proc, line);
      const match = started ? null : readyLine.exec(line);
      if (match) {
        started = true;
        clearTimeout(timer);
        resolve(match);
      } else if (started && line.includes('"level":"error"')) {
        proc.errorLines += 1;
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      if (!started) reject(new Error(`${name} exited (code ${child.exitCode}) before it was ready:\n${proc.tail.join('\n')}`));
    });
  });
  return { proc, ready };
}

export async function stopProcess(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const timedOut = await Promise.race([proc.exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
  if (timedOut) {
    log(`${proc.name} ignored SIGTERM for ${STOP_TIMEOUT_MS} ms: SIGKILL`);
    proc.child.kill('SIGKILL');
    await Promise.race([proc.exited, sleep(2_000)]);
  }
}

/** Stops every child; the Redis server last, so the engine and the worker close their connections first. */
export async function stopAll(): Promise<void> {
  const redis = [...running].filter((p) => p.name === 'redis');
  await Promise.all([...running].filter((p) => p.name !== 'redis').map((p) => stopProcess(p)));
  await Promise.all(redis.map((p) => stopProcess(p)));
}

export type Server = { proc: Proc; url: string };

export async function startServer(name: string, script: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): Promise<Server> {
  const { proc, ready } = spawnScript(name, script, env, /^READY (\d+)$/, { ipc: true, nodeFlags });
  const match = await ready;
  return { proc, url: `http://${HOST}:${match[1]}` };
}

/** The census preload (servers/redis-census.ts): counts the Redis commands a process sends; see `censusFlags`. */
export const CENSUS_PRELOAD = path.join(ROOT, 'dist', 'bench', 'servers', 'redis-census.js');

/** Node flags that load the census into a process (it writes its counts when `BENCH_REDIS_CENSUS_DIR` is set in its env). */
export const censusFlags = (): string[] => ['--require', CENSUS_PRELOAD];

/** A worker with the bench's environment (`env`, from childEnv) plus `extra`, the census loaded. */
export function spawnWorker(env: NodeJS.ProcessEnv, extra: Record<string, string> = {}): { proc: Proc; ready: Promise<RegExpExecArray> } {
  return spawnScript('worker', 'workers/purchase-worker.ts', { ...env, ...extra }, /WORKER_READY/, { ipc: false, nodeFlags: censusFlags() });
}


/**
 * redis-server is not a Node child and would outlive a bench killed with SIGKILL: a
 * `sh` watchdog starts it, prints its pid, and stops it (by that pid) when its stdin
 * closes (the bench is gone) or it gets SIGTERM/SIGINT/SIGHUP (stopProcess).
 */
const REDIS_WATCHDOG =
  'redis-server "$@" & r=$!; trap \'kill $r 2>/dev/null; wait $r; exit 0\' TERM INT HUP; echo "REDIS_PID $r"; read _x; kill $r 2>/dev/null; wait $r';

/**
 * A private redis-server for this run (no persistence, loopback, a free port), so the
 * Redis figures hold the engine's commands and no one else's. `proc.pid` is the
 * redis-server's own pid (its CPU and RSS); stopProcess(proc) stops it.
 */
export async function startRedisServer(dir: string): Promise<{ proc: Proc; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(HOST);
    const args = ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning'];
    const child = spawn('sh', ['-c', REDIS_WATCHDOG, 'sh', ...args], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error('could not spawn sh for redis-server');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const proc: Proc = { name: 'redis', child, pid: child.pid, exited, tail: [], errorLines: 0 };
    running.add(proc);
    void exited.then(() => running.delete(proc));
    readline.createInterface({ input: child.stderr! }).on('line', (line) => remember(proc, `stderr: ${line}`));
    const pid = await new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), START_TIMEOUT_MS);
      readline.createInterface({ input: child.stdout! }).on('line', (line) => {
        remember(proc, line);
        const m = /^REDIS_PID (\d+)$/.exec(line);
        if (m) proc.pid = Number(m[1]);
      });
      void exited.then(() => resolve(undefined));
      // Ready when it answers: redis-server at --loglevel warning prints nothing on start.
      const probe = async () => {
        while (child.exitCode === null) {
          if (proc.pid !== child.pid && (await ping(port))) {
            clearTimeout(timer);
            return resolve(proc.pid);
          }
          await sleep(20);
        }
      };
      void probe();
    });
    if (pid !== undefined) return { proc, port };
    await stopProcess(proc);
    if (attempt >= 3) throw new Error(`redis-server did not start on a free port:\n${proc.tail.join('\n')}`);
  }
}

/** True when something on the port answers PING with +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, HOST);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}
