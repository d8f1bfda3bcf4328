import { randomUUID } from 'node:crypto';
import knex, { Knex } from 'knex';
import { loadConfig } from '../../src/config/config';
import { TEST_DATABASE_URL, testEnv } from '../env';
import { createSale } from '../helpers';
import { Answer, Burst, BurstOptions, HealthSample, startBurst, startHealthPoller, Target } from './burst';
import { errorSummary, EngineProcess, spawnApiProcess, spawnWorkerProcess, stopProcess } from './processes';
import { PrivateRedis, startPrivateRedis } from './private-redis';
import { judge, Expect, FaultWindow, report, Verdict } from './judge';
import { SaleProbe, settle, snapshot } from './quiescence';
import { ReplyDropProxy, startReplyDropProxy } from './reply-drop-proxy';

/** The orphan sweep settings every fault run uses: a purchase with no job is settled after 2 s. */
export const ORPHAN_GRACE_MS = 2000;
export const ORPHAN_SWEEP_MS = 300;

export type RigOptions = {
  /** The private Redis writes an AOF with `appendfsync always`. */
  aof?: boolean;
  /** The APIs reach Redis through a reply-dropping proxy (the worker connects directly). */
  proxy?: boolean;
  /** API processes to start (default: one, labelled `api`), each with its own env overrides. */
  apis?: { label: string; env?: Record<string, string> }[];
  /** Env overrides for every engine process. */
  env?: Record<string, string>;
};

/**
 * One fault run's world: a private redis-server (stopped by PID), optionally the proxy,
 * API and worker OS processes pointed at it, the suite's test database (each run has its
 * own sale, queue name and Redis prefix), and the checks at the end.
 */
export class FaultRig {
  readonly prefix = `ft${randomUUID().slice(0, 8)}`;
  readonly queueName = `faults-${randomUUID().slice(0, 8)}`;
  redis!: PrivateRedis;
  proxy?: ReplyDropProxy;
  apis: EngineProcess[] = [];
  worker?: EngineProcess;
  db!: Knex;
  /** Load and pollers this rig started: stopped first by stop(), so a failed test leaves none running. */
  private readonly loops: (() => Promise<void>)[] = [];

  constructor(
    readonly name: string,
    private readonly opts: RigOptions = {},
  ) {}

  env(redisUrl: string, extra: Record<string, string> = {}): Record<string, string> {
    return testEnv({
      REDIS_URL: redisUrl,
      REDIS_PREFIX: this.prefix,
      QUEUE_NAME: this.queueName,
      ORPHAN_GRACE_MS: String(ORPHAN_GRACE_MS),
      ORPHAN_SWEEP_MS: String(ORPHAN_SWEEP_MS),
      WORKER_LOCK_MS: '3000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      // Error lines only, kept as evidence (test/faults/processes.ts).
      LOG_LEVEL: 'error',
      ...(this.opts.env ?? {}),
      ...extra,
    });
  }

  async start(): Promise<void> {
    this.db = knex({ client: 'pg', connection: TEST_DATABASE_URL, pool: { min: 0, max: 2 } });
    this.redis = await startPrivateRedis({ aof: this.opts.aof, label: `redis-${this.name}` });
    if (this.opts.proxy) this.proxy = await startReplyDropProxy({ port: this.redis.port });
    const apiRedis = this.proxy?.url ?? this.redis.url;
    const apis = this.opts.apis ?? [{ label: 'api' }];
    const [worker, ...started] = await Promise.all([
      spawnWorkerProcess(`worker-${this.name}`, this.env(this.redis.url)),
      ...apis.map((a) => spawnApiProcess(a.label, this.env(apiRedis, a.env))),
    ]);
    this.worker = worker;
    this.apis = started;
  }

  /** Stops everything it started, by PID, whatever state it is in. */
  async stop(): Promise<void> {
    const errors: unknown[] = [];
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    };
    await Promise.all(this.loops.map((stop) => attempt(stop)));
    await Promise.all([...this.apis, ...(this.worker ? [this.worker] : [])].map((p) => attempt(() => stopProcess(p.child, 5000))));
    if (this.proxy) await attempt(() => this.proxy!.close());
    if (this.redis) await attempt(() => this.redis.destroy());
    if (this.db) await attempt(() => this.db.destroy());
    if (errors.length) throw errors[0];
  }

  /** REDIS_COMMAND_TIMEOUT_MS as the engine processes read it (their default unless RigOptions.env sets it). */
  redisCommandTimeoutMs(): number {
    return loadConfig(this.env(this.redis.url)).redisCommandTimeoutMs;
  }

  api(label = 'api'): Target {
    const p = this.apis.find((a) => a.label === label);
    if (!p) throw new Error(`no API ${label}`);
    return { url: p.url, label };
  }

  probe(saleId: string): SaleProbe {
    return { db: this.db, redis: this.redis.admin(), prefix: this.prefix, queueName: this.queueName, saleId };
  }

  /** A sale of `stock` units, one per shopper, open now. */
  async createSale(stock: number): Promise<string> {
    return (await createSale(this.apis[0]!.url, { stock, perUserLimit: 1 })).saleId;
  }

  /** Health of `targets()` sampled every 100 ms from now until `finish`. */
  watchHealth(targets: () => Target[]) {
    const poller = startHealthPoller(targets, 100);
    this.loops.push(poller.stop);
    return poller;
  }

  /** A burst (test/faults/burst.ts) stopped by `finish`, or by stop() if the test fails first. */
  burst(opts: BurstOptions): Burst {
    const burst = startBurst(opts);
    this.loops.push(burst.stop);
    return burst;
  }

  /**
   * Lets the burst run until the sale sells out after the fault, or `tailMs` after it,
   * then stops it.
   */
  async endBurst(burst: Burst, fault: FaultWindow, tailMs = 3500): Promise<void> {
    const soldOutAfter = (as: Answer[]) => as.some((a) => a.t0 > fault.endedAt && a.status === 409 && a.code === 'SOLD_OUT');
    await burst
      .until((as) => soldOutAfter(as) || Date.now() > fault.endedAt + tailMs, 'sold out or the tail', tailMs + 5000)
      .catch(() => undefined); // a burst that ended by its own time limit is fine too
    await burst.stop();
  }

  /**
   * Waits for quiescence (bounded: every 200/202 decided, queue drained, gate empty, by
   * ORPHAN_GRACE_MS + 10 sweeps + 3 s after the later of the fault's end and the burst's
   * end), reads both stores, judges, writes artifacts/faults/<name>.json and prints a
   * one-line summary. Returns the verdict; the test asserts `violations` is empty.
   */
  async finish(input: {
    saleId: string;
    burst: Burst;
    health: { samples: HealthSample[]; stop: () => Promise<void> };
    fault: FaultWindow;
    expect: Expect;
    extra?: Record<string, unknown>;
    /** The artifact's name when one rig runs several tests (default: the rig's name). */
    name?: string;
  }): Promise<Verdict> {
    await input.burst.stop();
    const probe = this.probe(input.saleId);
    const ids = [...new Set(input.burst.answers.filter((a) => a.purchaseId && (a.kind === 'attempt' || a.kind === 'retry')).map((a) => a.purchaseId!))];
    const burstEnd = Math.max(...input.burst.answers.map((a) => a.t1));
    const deadline = Math.max(input.fault.endedAt, burstEnd) + ORPHAN_GRACE_MS + 10 * ORPHAN_SWEEP_MS + 3000;
    const settled = await settle(probe, ids, input.fault.endedAt, deadline);
    await input.health.stop();
    const snap = await snapshot(probe);
    const verdict = judge({
      fault: input.fault,
      burstStartedAt: input.burst.startedAt,
      answers: input.burst.answers,
      health: input.health.samples,
      settled,
      snap,
      expect: input.expect,
      extra: {
        ...(input.extra ?? {}),
        settings: {
          orphanGraceMs: ORPHAN_GRACE_MS,
          orphanSweepMs: ORPHAN_SWEEP_MS,
          redisCommandTimeoutMs: this.redisCommandTimeoutMs(),
          settleDeadlineAfterFaultMs: deadline - input.fault.endedAt,
        },
        engineErrorLogs: Object.fromEntries([...this.apis, ...(this.worker ? [this.worker] : [])].map((p) => [p.label, errorSummary(p.errorLogs)])),
      },
    });
    report(input.name ?? this.name, verdict, { answers: input.burst.answers, health: input.health.samples, origin: input.burst.startedAt });
    return verdict;
  }
}

/** Holds a fault for its planned duration (the fault's own parameter, not a wait for a state). */
export const holdFault = (ms: number) => new Promise((r) => setTimeout(r, ms));
