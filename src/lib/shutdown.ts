import { Logger } from './logger';

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if stopping failed).
 * The one place process entry points wire their graceful shutdown.
 */
export function onShutdownSignal(logger: Logger, what: string, stop: () => Promise<void>): void {
  let stopping = false;
  const handle = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${signal}: ${what}`);
    stop().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error('shutdown failed', { err: err.message });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
}

/** Entry points' last resort: print the reason (no stack for config errors) and exit 1. */
export function exitOnStartupError(err: unknown): never {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
