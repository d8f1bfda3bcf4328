import { runWaitingRoom } from './waiting-room';
import { Stack, startStack, testConfig } from '../../test/helpers';
import { TEST_JWT_SECRET } from '../../test/env';
import os from 'node:os';
import path from 'node:path';

/** The kit's --waiting-room run, small, against the real engine: its audit passes. */
describe('loadtest --waiting-room', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => stack?.stop());

  it('When 150 shoppers wait, buy with their pass or abandon it, then no purchase lacks a pass, no pass buys twice, and the order is the draw', async () => {
    const result = await runWaitingRoom({
      url: stack.api.url,
      jwtSecret: TEST_JWT_SECRET,
      joiners: 150,
      stock: 100,
      ratePerSecond: 40,
      passSeconds: 10,
      abandon: 0.2,
      startInS: 2,
      timeoutS: 40,
      out: path.join(os.tmpdir(), 'line-loadtest'),
      quiet: true,
    });
    expect(result.audit).toEqual({ purchasesWithoutPass: 0, passesUsedTwice: 0, orderProblems: [], servedOutOfOrder: 0 });
    expect(result.ok).toBe(true);
    expect(result.bought).toBeGreaterThan(50);
    expect(result.bought).toBeLessThanOrEqual(100);
    expect(result.abandoned).toBeGreaterThan(0);
  }, 90_000);
});
