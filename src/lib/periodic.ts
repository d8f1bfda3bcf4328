/** A task that runs every so often in the background, and can be stopped. */
export type Periodic = { stop: () => Promise<void> };

/**
 * Runs `task` every `everyMs`, never two at once (a tick that finds the last run still going
 * is skipped); a failure goes to `onError` and the next tick tries again. `stop` clears the
 * timer and waits for a run in progress, so what it was writing is finished. The timer does
 * not keep the process alive.
 */
export function runEvery(everyMs: number, task: () => Promise<unknown>, onError: (err: Error) => void): Periodic {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= task()
      .then(
        () => undefined,
        (err: Error) => onError(err),
      )
      .finally(() => (running = undefined));
  }, everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
