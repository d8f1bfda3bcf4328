/**
 * The bench's child processes: each server and the worker is `node dist/<script>.js` of its
 * own (compiled first), so its RSS and CPU can be read from /proc; all are stopped at the end.
 */
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { buildCompiled, childEnv, HOST, ROOT } from '../stack';
import { log, QUEUE_NAME, sleep } from './context';

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

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => stopProcess(p)));
}

export type Server = { proc: Proc; url: string };

export async function startServer(name: string, script: string, env: NodeJS.ProcessEnv, nodeFlags: readonly string[] = []): Promise<Server> {
  const { proc, ready } = spawnScript(name, script, env, /^READY (\d+)$/, { ipc: true, nodeFlags });
  const match = await ready;
  return { proc, url: `http://${HOST}:${match[1]}` };
}

export function spawnWorker(secret: string, extra: Record<string, string> = {}): { proc: Proc; ready: Promise<RegExpExecArray> } {
  return spawnScript('worker', 'workers/purchase-worker.ts', childEnv(secret, QUEUE_NAME, extra), /WORKER_READY/, { ipc: false });
}
