/** Process entry point: `npm run start:worker`. All logic lives in src/. */
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/lib/logger';
import { startWorker } from '../src/worker-process';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'worker');
  const worker = await startWorker(config, logger);
  // Tests that kill a worker wait for this line on stdout.
  process.stdout.write(`WORKER_READY pid=${process.pid}\n`);
  const shutdown = async (signal: string) => {
    logger.info(`${signal}: finishing jobs in hand, then closing`);
    await worker.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
