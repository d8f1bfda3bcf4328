/**
 * Runs the purchase worker on its own thread for `npm start`. In one event loop, an
 * HTTP flood stretches every loop iteration, and the worker's chain of sequential
 * Redis/PostgreSQL round trips advanced one step per iteration: buyers heard back only
 * after the flood. A thread gives the worker its own event loop inside the same process.
 */
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { loadConfig } from './config/config';
import { startWorker } from './worker-process';

export type WorkerThread = { stop: () => Promise<void>; metricsUrl: string };

/** Starts the worker thread and resolves once it is ready. */
export function startWorkerThread(env: NodeJS.ProcessEnv = process.env): Promise<WorkerThread> {
  const file = path.join(__dirname, `worker-thread${path.extname(__filename)}`);
  // Under tsx (npm start) a new thread does not inherit its loader: register it there first.
  const thread = file.endsWith('.ts')
    ? new Worker(`require('tsx/cjs/api').register(); require(${JSON.stringify(file)});`, { eval: true, workerData: { env: { ...env } } })
    : new Worker(file, { workerData: { env: { ...env } } });
  return new Promise((resolve, reject) => {
    thread.once('error', reject);
    thread.once('message', (m: { ready: true; metricsUrl: string } | string) => {
      if (typeof m === 'string') return reject(new Error(`worker thread: ${m}`));
      resolve({
        metricsUrl: m.metricsUrl,
        stop: () =>
          new Promise<void>((done) => {
            thread.once('exit', () => done());
            thread.postMessage('stop');
          }),
      });
    });
  });
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  startWorker(loadConfig((workerData as { env: NodeJS.ProcessEnv }).env))
    .then((worker) => {
      port.on('message', (m) => {
        // Finish the jobs in hand, close connections, then let the thread end.
        if (m === 'stop') void worker.stop().then(() => port.close());
      });
      port.postMessage({ ready: true, metricsUrl: worker.metricsUrl });
    })
    .catch((err: Error) => port.postMessage(err.message));
}
