import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

/**
 * Every OS process a fault test starts (redis-server, API, worker) is registered here
 * until it has exited, so that it is stopped by its PID whatever happens to the test:
 * `stopAll()` in afterAll, and a last-resort SIGKILL when the jest process exits.
 */
const live = new Map<ChildProcess, string>();

export function track(child: ChildProcess, label: string): ChildProcess {
  live.set(child, label);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Whether a process with this PID exists (EPERM: it does, but is not ours to signal). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

export function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (hasExited(child)) return resolve();
    child.once('exit', () => resolve());
  });
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`; resolves once it has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (hasExited(child)) return;
  const done = exited(child);
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  if ((await Promise.race([done, late])) === 'late') child.kill('SIGKILL');
  clearTimeout(timer);
  await done;
}

/** Stops every process still registered (in parallel); for afterAll. */
export async function stopAll(graceMs = 5000): Promise<void> {
  await Promise.all([...live.keys()].map((c) => stopProcess(c, graceMs)));
}

/** Labels and PIDs of registered processes still running (a test may assert there are none). */
export const running = () => [...live].map(([c, label]) => `${label} pid=${c.pid}`);

process.once('exit', () => {
  for (const child of live.keys()) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export type EngineProcess = {
  child: ChildProcess;
  label: string;
  /** An API's base URL ('' for a worker). */
  url: string;
  /** Error-level log lines the process wrote (the last 2,000), for evidence. */
  errorLogs: string[];
};

const ROOT = path.join(__dirname, '..', '..');

/**
 * Spawns an engine entry point (the same way test/helpers.ts `spawnApi` / `spawnWorker` do)
 * but registers the child before waiting for its ready line, so a process that never gets
 * ready is still stopped, and keeps its error-level log lines.
 */
async function spawnEngine(label: string, entry: string[], env: Record<string, string>, ready: RegExp): Promise<EngineProcess> {
  const child = track(
    spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, ...entry)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
    label,
  );
  const errorLogs: string[] = [];
  let stderr = '';
  let pending = '';
  let readyLine: string | undefined;
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const ok = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not get ready in 30 s: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (readyLine === undefined) {
          const m = ready.exec(line);
          if (m) {
            readyLine = line;
            clearTimeout(timer);
            resolve(m[1] ?? '');
            continue;
          }
        }
        if (line.includes('"level":"error"')) {
          errorLogs.push(line);
          if (errorLogs.length > 2000) errorLogs.shift();
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${label} exited (${code ?? signal}) before it was ready: ${stderr}`));
    });
  });
  try {
    const url = await ok;
    return { child, label, url, errorLogs };
  } catch (err) {
    await stopProcess(child, 1000);
    throw err;
  }
}

/** An API process (src/api.ts); resolves once it listens. */
export const spawnApiProcess = (label: string, env: Record<string, string>) =>
  spawnEngine(label, ['src', 'api.ts'], env, /API_READY url=(\S+)/);

/** A purchase worker process (workers/purchase-worker.ts); resolves once it takes jobs. */
export const spawnWorkerProcess = (label: string, env: Record<string, string>) =>
  spawnEngine(label, ['workers', 'purchase-worker.ts'], env, /WORKER_READY/);

/** Error log lines grouped by message, most frequent first: `[message, count]`. */
export function errorSummary(lines: string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const line of lines) {
    let key = line.slice(0, 160);
    try {
      const parsed = JSON.parse(line) as { message?: string; err?: string; path?: string };
      const route = parsed.path?.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, ':id');
      key = [parsed.message, route, parsed.err?.slice(0, 120)].filter(Boolean).join(' | ');
    } catch {
      /* not JSON: keep the raw start */
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 12);
}
