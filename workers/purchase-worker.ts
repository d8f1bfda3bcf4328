/** Process entry point: `npm run start:worker`. All logic lives in src/. */
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/lib/logger';
import { exitOnStartupError, onShutdownSignal } from '../src/lib/shutdown';
import { startWorker } from '../src/worker-process';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'worker');
  const worker = await startWorker(config, logger);
  // Tests that kill a worker wait for this line on stdout.
  process.stdout.write(`WORKER_READY pid=${process.pid} metrics=${worker.metricsUrl}\n`);
  onShutdownSignal(logger, 'finishing jobs in hand, then closing', () => worker.stop());
}

main().catch(exitOnStartupError);
