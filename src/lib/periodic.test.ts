import { runEvery } from './periodic';

/** Polls until `check` holds (or fails the test after 2 s). */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('runEvery', () => {
  it('When a run outlasts the period, then the next ticks skip instead of overlapping, and stop waits for the run in progress', async () => {
    let started = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let release: () => void = () => undefined;
    const task = () => {
      started++;
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<void>((resolve) => (release = resolve)).finally(() => inFlight--);
    };
    const periodic = runEvery(10, task, () => undefined);
    await until(() => started === 1, 'the first run');
    // Many periods pass while the first run is held: no second run starts.
    const heldSince = Date.now();
    await until(() => Date.now() - heldSince >= 60, 'six periods');
    expect(started).toBe(1);
    const stopped = periodic.stop();
    let stopDone = false;
    void stopped.then(() => (stopDone = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopDone).toBe(false);
    release();
    await stopped;
    expect(maxInFlight).toBe(1);
    expect(inFlight).toBe(0);
  });

  it('When a run fails, then the error is reported and the next tick runs again', async () => {
    const errors: string[] = [];
    let runs = 0;
    const periodic = runEvery(
      10,
      async () => {
        runs++;
        if (runs === 1) throw new Error('first one fails');
      },
      (err) => errors.push(err.message),
    );
    await until(() => runs >= 2, 'a second run');
    await periodic.stop();
    expect(errors).toEqual(['first one fails']);
  });
});
