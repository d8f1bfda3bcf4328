import { Redis } from 'ioredis';
import { Answer } from './faults/burst';
import { FaultWindow } from './faults/judge';
import { stopAll } from './faults/processes';
import { FaultRig, holdFault } from './faults/rig';

/**
 * Issue 10, item 5: Redis breaks under a purchase burst. Each run has its own redis-server
 * (free port, own directory, stopped by PID), API and worker OS processes pointed at it,
 * its own sale, queue and prefix in the suite's test database. Each asserts: attempts
 * answer only 202/409/503 in the envelope (503 with Retry-After), reads 200/503, fast;
 * service resumes without a restart; every 202 ends decided within the orphan bound; at
 * quiescence the gate holds nothing undecided, Redis remaining == PostgreSQL remaining, no
 * oversell, no duplicate order. Figures: artifacts/faults/<name>.json.
 */

/** Loopback load, bounded: <= 300 requests/s (1 in 5 a read), 32 in flight, 15 s at most. */
const LOAD = { concurrency: 32, ratePerSec: 300, readEvery: 5, maxMs: 15_000 } as const;
/** Sized to last through the fault and sell out a few seconds after it (a burst admits ~240/s). */
const STOCK = 400;
// ~1 s promised (REDIS_COMMAND_TIMEOUT_MS 500, at most twice behind a stalled auto-pipeline), plus slack for a busy CI.
const EXPECT = { latencyBoundMs: 1500, recoveryBoundMs: 3000, minFaultAnswers: 20 } as const;
const TEST_MS = 90_000;

const admitted = (n: number) => (as: Answer[]) => as.filter((a) => a.status === 202).length >= n;

afterAll(() => stopAll());

describe('When Redis is killed with SIGKILL mid-burst and restarted from its AOF (appendfsync always)', () => {
  const rig = new FaultRig('redis-kill9-aof-restart', { aof: true });
  beforeAll(() => rig.start(), 60_000);
  afterAll(() => rig.stop(), 30_000);

  it(
    'then no attempt answers 500, readiness drops and returns, service resumes, every 202 ends decided and Redis == PostgreSQL',
    async () => {
      const saleId = await rig.createSale(STOCK);
      const api = rig.api();
      const health = rig.watchHealth(() => [api]);
      const burst = rig.burst({ saleId, tag: `k9-${saleId.slice(0, 8)}`, target: () => api, ...LOAD });
      await burst.until(admitted(30), '30 admissions before the fault');

      const startedAt = Date.now();
      await rig.redis.kill9();
      await holdFault(1500);
      await rig.redis.start(); // resolves once the AOF is loaded and PING answers
      const fault: FaultWindow = { label: 'redis kill -9, AOF restart', startedAt, endedAt: Date.now() };

      await rig.endBurst(burst, fault);
      const verdict = await rig.finish({ saleId, burst, health, fault, expect: { ...EXPECT, readyDownDuringFault: true } });
      expect(verdict.violations).toEqual([]);
    },
    TEST_MS,
  );
});

describe('When Redis is stopped (SIGTERM) mid-burst and started again on the same port a few seconds later', () => {
  const rig = new FaultRig('redis-stop-start', { aof: true });
  beforeAll(() => rig.start(), 60_000);
  afterAll(() => rig.stop(), 30_000);

  it(
    'then every attempt and read answers 503 (never 500) while it is down, and all is consistent once it is back',
    async () => {
      const saleId = await rig.createSale(STOCK);
      const api = rig.api();
      const health = rig.watchHealth(() => [api]);
      const burst = rig.burst({ saleId, tag: `ss-${saleId.slice(0, 8)}`, target: () => api, ...LOAD });
      await burst.until(admitted(30), '30 admissions before the fault');

      const startedAt = Date.now();
      await rig.redis.stop();
      await holdFault(3000);
      await rig.redis.start();
      const fault: FaultWindow = { label: 'redis stopped 3 s, started again', startedAt, endedAt: Date.now() };

      await rig.endBurst(burst, fault);
      const verdict = await rig.finish({ saleId, burst, health, fault, expect: { ...EXPECT, readyDownDuringFault: true } });
      expect(verdict.violations).toEqual([]);
    },
    TEST_MS,
  );
});

/**
 * Sets maxmemory to just above what Redis uses (noeviction), then lets the burst (and a
 * few 4 KB probe writes of the test's own, so it never takes long) fill the gap until a
 * write is refused with OOM. Returns what was set.
 */
async function squeeze(admin: Redis, probePrefix: string): Promise<{ maxmemory: number; usedMemory: number; msToOom: number; probeWrites: number }> {
  const t0 = Date.now();
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
  const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))![1]);
  const maxmemory = used + 64 * 1024;
  await admin.config('SET', 'maxmemory', String(maxmemory));
  for (let n = 0; ; n++) {
    try {
      await admin.set(`${probePrefix}:${n}`, 'x'.repeat(4096));
    } catch (err) {
      if (/OOM/.test((err as Error).message)) return { maxmemory, usedMemory: used, msToOom: Date.now() - t0, probeWrites: n };
      throw err;
    }
    if (Date.now() - t0 > 5000) throw new Error(`Redis did not reach maxmemory ${maxmemory} within 5 s`);
    await new Promise((r) => setTimeout(r, 20)); // poll period
  }
}

describe('When Redis reaches maxmemory (noeviction) mid-burst and the limit is then lifted', () => {
  const rig = new FaultRig('redis-maxmemory', { aof: true });
  beforeAll(() => rig.start(), 60_000);
  afterAll(() => rig.stop(), 30_000);

  it(
    'then attempts refused by Redis answer 503, readiness is false while writes are refused, and nothing is stranded or leaked',
    async () => {
      const saleId = await rig.createSale(STOCK);
      const api = rig.api();
      const admin = rig.redis.admin();
      const health = rig.watchHealth(() => [api]);
      const burst = rig.burst({ saleId, tag: `mm-${saleId.slice(0, 8)}`, target: () => api, ...LOAD });
      await burst.until(admitted(30), '30 admissions before the fault');

      const startedAt = Date.now();
      const squeezed = await squeeze(admin, `${rig.prefix}:oom-probe`);
      await holdFault(2500);
      await admin.config('SET', 'maxmemory', '0');
      const fault: FaultWindow = { label: 'redis at maxmemory (noeviction) 2.5 s', startedAt, endedAt: Date.now() };

      await rig.endBurst(burst, fault);
      const verdict = await rig.finish({
        saleId,
        burst,
        health,
        fault,
        expect: { ...EXPECT, readyDownDuringFault: true },
        extra: { maxmemory: squeezed },
      });
      expect(verdict.violations).toEqual([]);
    },
    TEST_MS,
  );
});

describe("When the gate's reply is lost (a proxy forwards the API's gate call to Redis and drops Redis's replies on that connection)", () => {
  const rig = new FaultRig('redis-reply-lost', { proxy: true });
  beforeAll(() => rig.start(), 60_000);
  afterAll(() => rig.stop(), 30_000);

  /**
   * Drops replies for `windowMs` from the first gate call for a new sale on, mid-burst; returns the verdict.
   * `felt`: attempts sent during the window that must get something other than 202.
   */
  async function lostReplies(name: string, windowMs: number, felt: number) {
    const saleId = await rig.createSale(STOCK);
    const api = rig.api();
    const health = rig.watchHealth(() => [api]);
    const burst = rig.burst({ saleId, tag: `rl-${saleId.slice(0, 8)}`, target: () => api, ...LOAD });
    await burst.until(admitted(30), '30 admissions before the fault');

    // From the gate's script call for this sale on (its KEYS[1] is the sale's meta hash), replies are dropped.
    const gateCall = Buffer.from(`sale:{${saleId}}:meta`);
    const dropped = await rig.proxy!.dropReplies(windowMs, (chunk) => chunk.includes(gateCall));
    const fault: FaultWindow = { label: `gate replies dropped ${windowMs} ms`, startedAt: dropped.startedAt, endedAt: dropped.endedAt };

    await rig.endBurst(burst, fault);
    const verdict = await rig.finish({
      name,
      saleId,
      burst,
      health,
      fault,
      // The proxy's figures below prove the fault (triggered calls, dropped replies).
      expect: { ...EXPECT, minFaultAnswers: felt, readyDownDuringFault: false },
      extra: { proxy: dropped },
    });
    // The fault did what it says: gate calls went to Redis and their replies were thrown away.
    expect(dropped.triggeredCalls).toBeGreaterThan(0);
    expect(dropped.repliesBytesDropped).toBeGreaterThan(0);
    return verdict;
  }

  it(
    'then (replies dropped 1.5 s) those attempts answer 503 within the command timeout, and each admission that ran unanswered is given back (no unit leaked)',
    async () => {
      expect((await lostReplies('redis-reply-lost', 1500, 1)).violations).toEqual([]);
    },
    TEST_MS,
  );

  it(
    'then (the connection cut 100 ms after the gate call went out, before the client gave up on it) the call the client sends again on reconnect is not answered 200 for a purchase never queued',
    async () => {
      // The client has not timed out the call, so it sends it again on the new connection; the gate finds
      // that purchase already admitted (by the lost first run) and says so. (The calls caught were sent
      // by requests begun a moment before the window, so no count of answers sent within it is asked for.)
      expect((await lostReplies('redis-reply-lost-resent', 100, 0)).violations).toEqual([]);
    },
    TEST_MS,
  );
});
