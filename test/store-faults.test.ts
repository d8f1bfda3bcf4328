import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import knex from 'knex';
import { prepareDatabase } from '../src/lib/migration-source';
import { call, createSale, Reply, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';
import { Answer, startBurst } from './faults/burst';
import { FaultWindow, report, tally } from './faults/judge';
import { stopAll } from './faults/processes';
import { SaleProbe, settle, snapshot } from './faults/quiescence';
import { FaultRig, holdFault, ORPHAN_GRACE_MS, ORPHAN_SWEEP_MS, RigOptions } from './faults/rig';
import { scratchDatabase, startThrowawayPostgres, ThrowawayPostgres } from './faults/throwaway-postgres';

/**
 * Issue 10, item 6: the store faults the suite injects besides Redis's own (test/redis-faults.test.ts):
 * PostgreSQL restarted mid-burst (a cluster of the test's own), Redis forgetting its Lua
 * scripts mid-burst (SCRIPT FLUSH), PostgreSQL aborting the worker's writes with a real
 * deadlock_detected (40P01), and a client spoofing X-Forwarded-For past the per-IP limit.
 * The burst runs use API and worker OS processes on a private redis-server; each asserts
 * what the others do (attempts answer only 202/409/503 in the envelope, every 202 ends
 * decided within the bound, Redis remaining == PostgreSQL remaining at quiescence, sold +
 * remaining == stock, no duplicate order) plus proof that the fault really happened.
 * Figures: artifacts/faults/<name>.json, one summary line each.
 */

const EXPECT = { latencyBoundMs: 1500, recoveryBoundMs: 3000 } as const;
const TEST_MS = 60_000;
/** How long PostgreSQL stays down (a knob to probe the worker's retry budget: WORKER_ATTEMPTS with exponential backoff). */
// Longer than the worker's retries span (5 tries from 200 ms, ~3 s): jobs must wait for PostgreSQL, not run out of tries.
const PG_DOWN_MS = Number(process.env.STORE_FAULTS_PG_DOWN_MS ?? 5000);
const admitted = (n: number) => (as: Answer[]) => as.filter((a) => a.status === 202).length >= n;

afterAll(() => stopAll());

/** A fault rig whose engine processes (and probe) use `databaseUrl` instead of the suite's test database. */
class OwnDatabaseRig extends FaultRig {
  constructor(
    name: string,
    private readonly databaseUrl: string,
    opts: RigOptions = {},
  ) {
    super(name, { ...opts, env: { ...(opts.env ?? {}), DATABASE_URL: databaseUrl } });
  }

  override async start(): Promise<void> {
    await super.start();
    await this.db.destroy();
    this.db = knex({ client: 'pg', connection: this.databaseUrl, pool: { min: 0, max: 2 } });
  }
}

/** Waits (bounded like FaultRig.finish) until every admitted purchase is decided, the queue is drained and the gate is empty. */
async function drained(rig: FaultRig, saleId: string, answers: Answer[], fault: FaultWindow) {
  const ids = [...new Set(answers.filter((a) => a.purchaseId).map((a) => a.purchaseId!))];
  const burstEnd = Math.max(...answers.map((a) => a.t1));
  return settle(rig.probe(saleId), ids, fault.endedAt, Math.max(fault.endedAt, burstEnd) + ORPHAN_GRACE_MS + 10 * ORPHAN_SWEEP_MS + 3000);
}

/**
 * Completed purchase jobs: how many failed at least once before completing (BullMQ keeps each
 * failure's stack), how many of those for `failure`, and how many attempts each took.
 */
async function jobRetries(rig: FaultRig, failure: RegExp) {
  const queue = new Queue(rig.queueName, { connection: rig.redis.admin(), prefix: `{${rig.prefix}:bull}` });
  try {
    const jobs = (await queue.getJobs(['completed'], 0, 10_000)).filter((j) => j !== undefined);
    const traces = jobs.map((j) => j.stacktrace ?? []);
    const attemptsToComplete: Record<string, number> = {};
    for (const j of jobs) attemptsToComplete[j.attemptsMade] = (attemptsToComplete[j.attemptsMade] ?? 0) + 1;
    return {
      completed: jobs.length,
      retried: traces.filter((t) => t.length > 0).length,
      retriedFor: traces.filter((t) => t.some((s) => failure.test(s))).length,
      attemptsToComplete,
      maxAttemptsMade: Math.max(0, ...jobs.map((j) => j.attemptsMade)),
    };
  } finally {
    await queue.close();
  }
}

describe(`When PostgreSQL (a cluster of the test's own) is stopped mid-burst and started again ${PG_DOWN_MS / 1000} s later`, () => {
  let pg: ThrowawayPostgres | undefined;
  let rig: OwnDatabaseRig | undefined;
  beforeAll(async () => {
    pg = await startThrowawayPostgres();
    const url = pg.url('flashsale_pgfault');
    await prepareDatabase(url);
    rig = new OwnDatabaseRig('postgres-restart', url);
    await rig.start();
  }, 60_000);
  afterAll(async () => {
    try {
      await rig?.stop();
    } finally {
      await pg?.destroy();
    }
  }, 30_000);

  it(
    'then attempts answer only 202/409/503 (never 500), readiness drops and returns, every 202 ends decided, and Redis == PostgreSQL with no oversell or duplicate order',
    async () => {
      // Arrange: enough units for ~100 attempts/s through the outage and 3 s after it (and 20 reads/s),
      // 48 in flight at most: admissions (which need Redis, not PostgreSQL) go on through the outage
      // and sell out after it.
      const saleId = await rig!.createSale(Math.round(100 * (PG_DOWN_MS / 1000 + 4)));
      const api = rig!.api();
      const health = rig!.watchHealth(() => [api]);
      const burst = startBurst({ saleId, tag: `pg-${saleId.slice(0, 8)}`, target: () => api, concurrency: 48, ratePerSec: 100, readEvery: 5, maxMs: PG_DOWN_MS + 6000 });
      await burst.until(admitted(30), '30 admissions before the fault');

      // Act: stop (fast: sessions terminated, transactions in flight aborted), hold, start.
      const pidBefore = pg!.pid();
      const startedAt = Date.now();
      await pg!.stop('fast');
      const downAt = Date.now();
      await holdFault(PG_DOWN_MS);
      await pg!.start(); // resolves once it accepts connections
      const fault: FaultWindow = { label: `PostgreSQL stopped (-m fast) ${PG_DOWN_MS / 1000} s, started again`, startedAt, endedAt: Date.now() };
      const pidAfter = pg!.pid();
      await rig!.endBurst(burst, fault);
      await burst.stop();
      const settled = await drained(rig!, saleId, burst.answers, fault);
      const jobs = await jobRetries(rig!, /terminating connection|ECONNREFUSED|Connection terminated|starting up|shutting down/i);

      // Assert
      const verdict = await rig!.finish({
        saleId,
        burst,
        health,
        fault,
        expect: { ...EXPECT, minFaultAnswers: 0, readyDownDuringFault: true },
        extra: { postgres: { pidBefore, pidAfter, stopMs: downAt - startedAt, downMs: fault.endedAt - downAt }, jobs, drainedMsAfterFaultEnd: settled.ms },
      });
      expect(pidAfter).toBeDefined();
      expect(pidAfter).not.toBe(pidBefore); // a new postmaster: it really went down
      expect(verdict.violations).toEqual([]);
      // With units left, the outage itself rejects nobody: jobs wait for PostgreSQL instead of running out of tries.
      const decided = await rig!.db('purchases').where({ sale_id: saleId }).groupBy('status', 'reason').select('status', 'reason', rig!.db.raw('count(*)::int AS n'));
      expect(decided).toEqual([{ status: 'confirmed', reason: null, n: burst.answers.filter((a) => a.status === 202).length }]);
    },
    TEST_MS,
  );
});

/** NOSCRIPT replies and EVAL calls Redis has counted since it started (INFO errorstats / commandstats). */
async function scriptStats(admin: Redis): Promise<{ noscript: number; eval: number; evalsha: number }> {
  const errors = await admin.info('errorstats');
  const commands = await admin.info('commandstats');
  const calls = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(commands)?.[1] ?? 0);
  return { noscript: Number(/errorstat_NOSCRIPT:count=(\d+)/.exec(errors)?.[1] ?? 0), eval: calls('eval'), evalsha: calls('evalsha') };
}

describe('When Redis forgets every Lua script (SCRIPT FLUSH, five times 300 ms apart) mid-burst', () => {
  const rig = new FaultRig('redis-script-flush');
  beforeAll(() => rig.start(), 60_000);
  afterAll(() => rig.stop(), 30_000);

  it(
    'then the API and the worker fall back from EVALSHA to EVAL: no 500, every 202 ends decided, and Redis == PostgreSQL with no oversell or duplicate order',
    async () => {
      // Arrange: 400 units at 120 attempts/s (and 30 reads/s), 32 in flight at most: it sells out after the flushes.
      const saleId = await rig.createSale(400);
      const api = rig.api();
      const admin = rig.redis.admin();
      const health = rig.watchHealth(() => [api]);
      const burst = startBurst({ saleId, tag: `sf-${saleId.slice(0, 8)}`, target: () => api, concurrency: 32, ratePerSec: 150, readEvery: 5, maxMs: 15_000 });
      await burst.until(admitted(30), '30 admissions before the fault');
      const before = await scriptStats(admin);

      // Act
      const startedAt = Date.now();
      for (let i = 0; i < 5; i++) {
        await admin.script('FLUSH');
        if (i < 4) await holdFault(300);
      }
      const fault: FaultWindow = { label: 'SCRIPT FLUSH x5, 300 ms apart', startedAt, endedAt: Date.now() };
      await rig.endBurst(burst, fault);
      const after = await scriptStats(admin);
      const scripts = { noscriptReplies: after.noscript - before.noscript, evalCalls: after.eval - before.eval, evalshaCalls: after.evalsha - before.evalsha };

      // Assert
      const verdict = await rig.finish({ saleId, burst, health, fault, expect: { ...EXPECT, minFaultAnswers: 0, readyDownDuringFault: false }, extra: { scripts } });
      // The fault was felt: EVALSHA met NOSCRIPT, and clients sent the scripts again with EVAL.
      expect(scripts.noscriptReplies).toBeGreaterThan(0);
      expect(scripts.evalCalls).toBeGreaterThan(0);
      expect(verdict.violations).toEqual([]);
    },
    TEST_MS,
  );
});

/** Deadlocks injected: the worker's first N INSERTs into orders fail with SQLSTATE 40P01. */
const DEADLOCKS = 4;
const WORKER_ATTEMPTS = 5;
const INJECTED = 'deadlock detected (injected by test/store-faults.test.ts)';

/**
 * A BEFORE INSERT statement trigger on orders that raises deadlock_detected while the count
 * is below `n`. The count is a sequence: nextval survives the rollback of the transaction
 * that the error aborts (a counter row would be rolled back with it).
 */
async function injectDeadlocks(databaseUrl: string, n: number): Promise<void> {
  const db = knex({ client: 'pg', connection: databaseUrl, pool: { min: 0, max: 1 } });
  try {
    await db.raw(`CREATE SEQUENCE fault_deadlock_calls`);
    await db.raw(`
      CREATE FUNCTION fault_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('fault_deadlock_calls') <= ${n} THEN
          RAISE EXCEPTION '${INJECTED}' USING ERRCODE = '40P01';
        END IF;
        RETURN NULL;
      END $$`);
    await db.raw(`CREATE TRIGGER fault_deadlock BEFORE INSERT ON orders FOR EACH STATEMENT EXECUTE FUNCTION fault_deadlock()`);
  } finally {
    await db.destroy();
  }
}

/** INSERT statements into orders the trigger has seen (the first DEADLOCKS of them failed). */
async function orderInsertCalls(rig: FaultRig): Promise<number> {
  const { rows } = await rig.db.raw(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS n FROM fault_deadlock_calls`);
  return Number(rows[0].n);
}

describe(`When PostgreSQL aborts the worker's first ${DEADLOCKS} order writes with deadlock_detected (SQLSTATE 40P01)`, () => {
  let scratch: Awaited<ReturnType<typeof scratchDatabase>> | undefined;
  let rig: OwnDatabaseRig | undefined;
  beforeAll(async () => {
    scratch = await scratchDatabase('fs_deadlock');
    await injectDeadlocks(scratch.url, DEADLOCKS);
    // Fewer deadlocks than attempts: no job can fail for good, so every purchase must be confirmed.
    rig = new OwnDatabaseRig('postgres-deadlock-retry', scratch.url, { env: { WORKER_ATTEMPTS: String(WORKER_ATTEMPTS) } });
    await rig.start();
  }, 60_000);
  afterAll(async () => {
    try {
      await rig?.stop();
    } finally {
      await scratch?.drop();
    }
  }, 30_000);

  it(
    'then the worker retries the aborted transactions: every purchase is confirmed exactly once, with no duplicate order, and Redis == PostgreSQL',
    async () => {
      // Arrange: more units than attempts, so every attempt is admitted and must end confirmed.
      const saleId = await rig!.createSale(200);
      const api = rig!.api();
      const health = rig!.watchHealth(() => [api]);

      // Act: the burst starts with the trigger armed; the fault lasts until it has fired DEADLOCKS times.
      const startedAt = Date.now();
      const burst = startBurst({ saleId, tag: `dl-${saleId.slice(0, 8)}`, target: () => api, concurrency: 8, ratePerSec: 60, readEvery: 5, maxMs: 2500 });
      await waitFor(async () => {
        const n = await orderInsertCalls(rig!);
        return n >= DEADLOCKS ? n : undefined;
      }, `the trigger to fire ${DEADLOCKS} times`, 10_000, 20);
      const fault: FaultWindow = { label: `orders INSERT raises 40P01 ${DEADLOCKS} times`, startedAt, endedAt: Date.now() };
      await burst.done;
      const settled = await drained(rig!, saleId, burst.answers, fault);
      const jobs = await jobRetries(rig!, /deadlock detected \(injected/);
      const calls = await orderInsertCalls(rig!);

      // Assert
      const verdict = await rig!.finish({
        saleId,
        burst,
        health,
        fault,
        expect: { ...EXPECT, minFaultAnswers: 0, readyDownDuringFault: false },
        extra: { deadlocks: { injected: Math.min(calls, DEADLOCKS), orderInsertStatements: calls, workerAttempts: WORKER_ATTEMPTS }, jobs, drainedMsAfterFaultEnd: settled.ms },
      });
      const attempts = burst.answers.filter((a) => a.kind === 'attempt');
      const snap = await snapshot(rig!.probe(saleId));
      // Every INSERT the trigger failed was followed by one that went through.
      expect(calls).toBeGreaterThan(DEADLOCKS);
      // BullMQ retried at least one job whose attempt failed with the injected deadlock.
      expect(jobs.retriedFor).toBeGreaterThan(0);
      expect(tally(attempts)).toEqual({ '202': attempts.length });
      expect({ confirmed: snap.confirmed, orders: snap.orders, rejected: snap.rejectedByReason }).toEqual({ confirmed: attempts.length, orders: attempts.length, rejected: {} });
      expect(verdict.violations).toEqual([]);
    },
    TEST_MS,
  );
});

/**
 * Spoofed client addresses against the per-IP attempt limit (src/http/rate-limit.ts keys on
 * `req.ip`; app.ts trusts exactly TRUST_PROXY_HOPS proxies). In-process stacks on the
 * suite's Redis and test database, each with its own prefix so its counters start at zero.
 */
const IP_LIMIT = 3;
const uniq = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
const spoofs = (i: number) => [`10.${i}.0.1`, `203.0.113.${i + 10}`, `2001:db8::${i + 1}`, `198.51.100.${i + 1}, 192.0.2.${i + 1}`, 'unknown', `1.2.3.${i}, 127.0.0.${i + 2}`];

type Try = { label: string; xff: string; status: number; code?: string; retryAfter: string | null; ms: number; envelope: boolean };

async function attemptAs(base: string, saleId: string, headers: Record<string, string>, label: string): Promise<Try & { reply: Reply }> {
  const t0 = Date.now();
  const reply = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token: shopperToken(uniq('xff')), body: { quantity: 1 }, headers });
  const envelope = typeof reply.body?.error?.code === 'string' && typeof reply.body?.error?.message === 'string' && Object.keys(reply.body).length === 1;
  return { label, xff: headers['x-forwarded-for'] ?? '', status: reply.status, code: reply.body?.error?.code, retryAfter: reply.headers.get('retry-after'), ms: Date.now() - t0, envelope, reply };
}

function expectRateLimited(t: Try): void {
  expect({ label: t.label, status: t.status, code: t.code, envelope: t.envelope }).toEqual({ label: t.label, status: 429, code: 'RATE_LIMITED', envelope: true });
  expect(t.retryAfter).toMatch(/^\d+$/);
  expect(Number(t.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(Number(t.retryAfter)).toBeLessThanOrEqual(60);
}

/** Waits for the stack's worker to decide the admitted purchases, then writes the figures in the fault tests' format. */
async function reportSpoofing(name: string, label: string, stack: Stack, saleId: string, tries: Try[], startedAt: number): Promise<{ unitsLost: number; redisRemaining: number; pgRemaining: number; confirmed: number }> {
  const probe: SaleProbe = { db: stack.api.deps.db, redis: stack.api.deps.redis, prefix: stack.config.redisPrefix, queueName: stack.config.queueName, saleId };
  const endedAt = Date.now();
  const ids = tries.flatMap((t) => (t.status === 202 ? [(t as Try & { reply: Reply }).reply.body.purchaseId as string] : []));
  const settled = await settle(probe, ids, endedAt, endedAt + 15_000);
  const snap = await snapshot(probe);
  const ms = tries.map((t) => t.ms).sort((a, b) => a - b);
  const answers = tries.map((t) => ({ status: t.status, code: t.code }) as Answer);
  const unitsLost = snap.pgRemaining - snap.redisRemaining;
  const figures = {
    fault: { label, startMs: 0, durationMs: endedAt - startedAt },
    attempts: tally(answers),
    latencyMs: { all: { n: ms.length, p50: ms[Math.floor(ms.length / 2)] ?? 0, max: ms[ms.length - 1] ?? 0, p99: ms[Math.max(0, Math.ceil(0.99 * ms.length) - 1)] ?? 0 } },
    recoveryMs: null,
    settle: { reached: settled.reached, msAfterFaultEnd: settled.ms, undecided202: settled.undecided.length, gateOpen: settled.gateOpen, liveJobs: settled.liveJobs },
    quiescence: { stock: snap.stock, sold: snap.sold, pgRemaining: snap.pgRemaining, redisRemaining: snap.redisRemaining, unitsLost, confirmed: snap.confirmed, orphansSettled: 0, duplicateOrders: snap.duplicateOrderPurchases },
    tries: tries.map(({ label: l, xff, status, code, retryAfter, ms: took }) => ({ label: l, xff, status, code, retryAfter, ms: took })),
  };
  const violations: string[] = [];
  if (!settled.reached) violations.push(`${settled.undecided.length} admitted purchases undecided`);
  if (unitsLost !== 0) violations.push(`Redis remaining ${snap.redisRemaining} != PostgreSQL remaining ${snap.pgRemaining}`);
  if (snap.sold + snap.pgRemaining !== snap.stock) violations.push(`sold ${snap.sold} + remaining ${snap.pgRemaining} != stock ${snap.stock}`);
  if (snap.duplicateOrderPurchases) violations.push(`${snap.duplicateOrderPurchases} duplicate orders`);
  report(name, { figures, violations });
  expect(violations).toEqual([]);
  return { unitsLost, redisRemaining: snap.redisRemaining, pgRemaining: snap.pgRemaining, confirmed: snap.confirmed };
}

describe(`When each client IP may make ${IP_LIMIT} attempts a minute and no proxy is trusted (TRUST_PROXY_HOPS=0)`, () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ RATE_LIMIT_IP_PER_MIN: String(IP_LIMIT), RATE_LIMIT_USER_PER_MIN: '0', TRUST_PROXY_HOPS: '0', REDIS_PREFIX: uniq('fsxff0') }));
  });
  afterAll(async () => stack?.stop());

  it(`then a client sending a different X-Forwarded-For (and Forwarded, X-Real-IP) on every attempt is refused after ${IP_LIMIT}: 429 RATE_LIMITED with Retry-After, taking nothing`, async () => {
    // Arrange
    const base = stack.api.url;
    const stock = 20;
    const { saleId } = await createSale(base, { stock, perUserLimit: 1 });
    const startedAt = Date.now();

    // Act: one client (the loopback socket), a fresh shopper and fresh spoofed headers every time.
    const tries: (Try & { reply: Reply })[] = [];
    for (let i = 0; i < IP_LIMIT + 6; i++) {
      const xff = spoofs(i)[i % 6]!;
      tries.push(await attemptAs(base, saleId, { 'x-forwarded-for': xff, forwarded: `for=192.0.2.${i + 50}`, 'x-real-ip': `192.0.2.${i + 100}` }, `spoof ${i + 1}`));
    }

    // Assert
    expect(tries.slice(0, IP_LIMIT).map((t) => t.status)).toEqual(Array(IP_LIMIT).fill(202));
    tries.slice(IP_LIMIT).forEach(expectRateLimited);
    const q = await reportSpoofing('spoofed-xff-untrusted', 'X-Forwarded-For rotated on every attempt, TRUST_PROXY_HOPS=0', stack, saleId, tries, startedAt);
    expect(q).toEqual({ unitsLost: 0, redisRemaining: stock - IP_LIMIT, pgRemaining: stock - IP_LIMIT, confirmed: IP_LIMIT });
  });
});

describe(`When each client IP may make ${IP_LIMIT} attempts a minute behind one trusted proxy (TRUST_PROXY_HOPS=1)`, () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig({ RATE_LIMIT_IP_PER_MIN: String(IP_LIMIT), RATE_LIMIT_USER_PER_MIN: '0', TRUST_PROXY_HOPS: '1', REDIS_PREFIX: uniq('fsxff1') }));
  });
  afterAll(async () => stack?.stop());

  it(`then only the last hop counts: a client that prepends spoofed addresses to a fixed last hop is refused after ${IP_LIMIT}, while another last hop keeps its own allowance`, async () => {
    // Arrange: the proxy appends the address it saw (203.0.113.7) to whatever the client sent.
    const base = stack.api.url;
    const stock = 20;
    const { saleId } = await createSale(base, { stock, perUserLimit: 1 });
    const realHop = '203.0.113.7';
    const startedAt = Date.now();

    // Act
    const tries: (Try & { reply: Reply })[] = [];
    for (let i = 0; i < IP_LIMIT + 4; i++) {
      const forged = spoofs(i).slice(0, (i % 4) + 1).join(', ');
      tries.push(await attemptAs(base, saleId, { 'x-forwarded-for': `${forged}, ${realHop}` }, `prepended ${i + 1}`));
    }
    // Another client behind the same proxy, and the proxy itself (no header): each its own allowance.
    const neighbour = await attemptAs(base, saleId, { 'x-forwarded-for': `${realHop}, 198.51.100.23` }, 'other last hop');
    const direct = await attemptAs(base, saleId, {}, 'no header (the socket address)');

    // Assert
    expect(tries.slice(0, IP_LIMIT).map((t) => t.status)).toEqual(Array(IP_LIMIT).fill(202));
    tries.slice(IP_LIMIT).forEach(expectRateLimited);
    expect({ neighbour: neighbour.status, direct: direct.status }).toEqual({ neighbour: 202, direct: 202 });
    const all = [...tries, neighbour, direct];
    const q = await reportSpoofing('spoofed-xff-one-hop', 'spoofed hops prepended to a fixed last hop, TRUST_PROXY_HOPS=1', stack, saleId, all, startedAt);
    expect(q).toEqual({ unitsLost: 0, redisRemaining: stock - IP_LIMIT - 2, pgRemaining: stock - IP_LIMIT - 2, confirmed: IP_LIMIT + 2 });
  });
});
