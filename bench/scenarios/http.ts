/**
 * What scenarios (a) (b) (c) have in common: each is one HTTP endpoint loaded for a warm-up
 * and a measured window, with its server's (and, on the engine, the worker's) RSS and CPU.
 * Each scenario file says which endpoint, which status every answer should have, and how to
 * smoke-test it before the rounds.
 */
import { Bench, log } from '../harness/context';
import { figures, Figures, runLoad, Sample, Target } from '../harness/load';
import { cpuPer, ProcessMeter } from '../harness/meter';
import type { Server } from '../harness/processes';
import { redisLine, RedisMeter, RedisTotals } from '../harness/redis-meter';
import { redisMeterFor } from '../harness/redis-setup';
import { purchasesOf } from '../harness/storage';

export type ScenarioId = 'hello' | 'admit' | 'soldout' | 'naive';

export type HttpScenario = {
  id: ScenarioId;
  label: string;
  expectedStatus: number;
  /** The process that serves it (its RSS is the table's). */
  serverName: string;
  /** The endpoint of one run. */
  target(b: Bench, round: number): Promise<{ target: Target; server: Server; saleId?: string }>;
  /**
   * After the measured run, before the next: extra figures of this scenario. With
   * `redisPhase`, it must return only once every purchase of the run is decided.
   */
  after?(b: Bench, record: RunRecord): Promise<void>;
  /** Measure Redis's cost per purchase from the first request (warm-up included) until after() returns. */
  redisPhase?: boolean;
  /** One request (or two) before spending minutes: fails fast with the reply that was wrong. */
  smoke(b: Bench): Promise<void>;
};

export type RunRecord = Figures & {
  scenario: ScenarioId;
  round: number;
  saleId?: string;
  /** Max RSS (MB) per process during the warm-up and the measured run. */
  rssMb: Record<string, number>;
  /** CPU time per response during the measured run, per process (loadgen = autocannon, this process). */
  cpuUsPerReq: Record<string, number>;
  tokensUsed: number;
  tokensWrapped: boolean;
  /** Admitting only: jobs left in the queue after the run, and how long the worker took to finish them. */
  backlogAfter?: number;
  backlogDrainMs?: number;
  /** Admitting only: purchases per worker transaction while admission was running. */
  workerAvgBatch?: number | null;
  /** Admitting only: Redis's cost of the whole run (warm-up, window, drain) and the purchases it decided. */
  redis?: RedisTotals;
};

/** One measured run of `scenario` in `round`. */
export async function measure(b: Bench, scenario: HttpScenario, round: number): Promise<RunRecord> {
  const { target, server, saleId } = await scenario.target(b, round);
  const onEngine = scenario.serverName === 'engine';
  const watched = onEngine ? [server.proc, ...(b.worker ? [b.worker] : []), ...(b.redis.proc ? [b.redis.proc] : [])] : [server.proc];
  const redisMeter: RedisMeter | undefined = scenario.redisPhase && saleId ? await redisMeterFor(b).start() : undefined;
  const meter = new ProcessMeter(watched).start();
  let sample: Sample;
  try {
    sample = await runLoad(
      target,
      b.opts.connections,
      { warmupS: b.opts.warmup, durationS: b.opts.duration },
      { onOpen: () => meter.restartCpu(), onClose: () => meter.stopCpu() },
    );
  } catch (err) {
    redisMeter?.abort();
    throw err;
  }
  const { rssMb, cpuMs } = meter.stop();
  const f = figures(sample, scenario.expectedStatus);
  const record: RunRecord = {
    scenario: scenario.id,
    round,
    ...(saleId ? { saleId } : {}),
    ...f,
    rssMb,
    cpuUsPerReq: cpuPer(cpuMs, f.responses),
    tokensUsed: target.tokens.count,
    tokensWrapped: target.tokens.wrapped,
  };
  await scenario.after?.(b, record);
  if (redisMeter && saleId) record.redis = await redisMeter.stop(await purchasesOf(b.storage.db, saleId));
  log(
    `round ${round} ${scenario.id.padEnd(7)} ${String(record.reqPerSec).padStart(6)} req/s  p50 ${record.p50Ms} ms  p99 ${record.p99Ms} ms  ` +
      `ramp ${record.rampMs} ms  unexpected ${record.unexpected}  rss MB ${JSON.stringify(rssMb)}  cpu µs/req ${JSON.stringify(record.cpuUsPerReq)}` +
      (record.redis ? `; ${redisLine(record.redis)}` : ''),
  );
  return record;
}
