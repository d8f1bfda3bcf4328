import { Logger } from './logger';

/**
 * Runs `stop` once on SIGTERM or SIGINT, then exits 0 (1 if stopping failed).
 * The one place process entry points wire their graceful shutdown. Returns the trigger,
 * for other reasons to stop (e.g. a parent process going away).
 */
export function onShutdownSignal(logger: Pick<Logger, 'info' | 'error'>, what: string, stop: () => Promise<void>): (reason: string) => void {
  let stopping = false;
  const handle = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(`${reason}: ${what}`);
    stop().then(
      () => {
        logger.info('stopped');
        // Exit once stdout has taken the last line: the logger writes on its next turn, and a pipe asynchronously.
        setImmediate(() => process.stdout.write('', () => process.exit(0)));
      },
      (err: Error) => {
        logger.error('shutdown failed', { err: err.message });
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handle);
  process.once('SIGINT', handle);
  return handle;
}

/** Entry points' last resort: print the reason (no stack for config errors) and exit 1. */
export function exitOnStartupError(err: unknown): never {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
}
