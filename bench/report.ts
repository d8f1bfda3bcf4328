/** Summary, ratios, targets and the markdown table of one bench run. */
import { WORKER_BATCH_DEFAULTS } from '../src/config/config';
import { round2 } from './harness/context';
import { median } from './stack';
import type { Options } from './harness/options';
import { perPurchase } from './harness/redis-meter';
import { breakdown, poolRedis, RedisBreakdown, redisMarkdown } from './redis-report';
import type { DrainRecord } from './scenarios/drain';
import type { RunRecord, ScenarioId } from './scenarios/http';
import { SCENARIOS } from './scenarios/index';

const TARGETS = {
  admitVsHello: 0.7,
  admitP99Ms: 50,
  soldoutVsHello: 0.9,
  admitVsNaive: 5,
  drainVsBatch1: 8,
  apiRssMb: 200,
  // Issue 13: Redis's own cost per purchase, admitting with group commit and rate limits on.
  redisUsPerPurchase: 50,
  redisCommandsPerPurchase: 12,
} as const;

export type ScenarioSummary = {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxRssMb: number;
  workerMaxRssMb?: number;
  /** Median CPU µs per response, per process. */
  cpuUsPerReq: Record<string, number>;
  /** Admitting: median purchases per worker transaction. */
  workerAvgBatch?: number;
  expected: number;
  unexpected: number;
  statusCounts: Record<string, number>;
  tokensWrapped: boolean;
  /** Admitting: Redis per purchase, pooled over the rounds (whole runs: warm-up, window, drain). */
  redis?: { cpuUs: number; commands: number; sent: number };
};

function sumCounts(records: RunRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records) for (const [code, n] of Object.entries(r.statusCounts)) out[code] = (out[code] ?? 0) + n;
  return out;
}

function summarize(records: RunRecord[], serverName: string): ScenarioSummary {
  const workerRss = records.flatMap((r) => (r.rssMb.worker !== undefined ? [r.rssMb.worker] : []));
  return {
    reqPerSec: Math.round(median(records.map((r) => r.reqPerSec))),
    p50Ms: median(records.map((r) => r.p50Ms)),
    p99Ms: median(records.map((r) => r.p99Ms)),
    maxRssMb: Math.max(...records.map((r) => r.rssMb[serverName] ?? 0)),
    ...(workerRss.length ? { workerMaxRssMb: Math.max(...workerRss) } : {}),
    cpuUsPerReq: Object.fromEntries(Object.keys(records[0]?.cpuUsPerReq ?? {}).map((n) => [n, median(records.map((r) => r.cpuUsPerReq[n] ?? NaN))])),
    ...(records.some((r) => r.workerAvgBatch != null) ? { workerAvgBatch: median(records.map((r) => r.workerAvgBatch ?? NaN)) } : {}),
    expected: records.reduce((a, r) => a + r.expected, 0),
    unexpected: records.reduce((a, r) => a + r.unexpected, 0),
    statusCounts: sumCounts(records),
    tokensWrapped: records.some((r) => r.tokensWrapped),
    ...redisOf(records.flatMap((r) => (r.redis ? [r.redis] : []))),
  };
}

function redisOf(phases: NonNullable<RunRecord['redis']>[]): { redis?: { cpuUs: number; commands: number; sent: number } } {
  const pooled = poolRedis(phases);
  return pooled ? { redis: perPurchase(pooled) } : {};
}

export type DrainSummary = {
  ordersPerSec: number;
  jobs: number;
  maxRssMb: number;
  rejected: number;
  workerCpuUsPerOrder: number;
  avgBatch: number;
  /** Redis per purchase from the start of the pre-fill to the last purchase decided, pooled over rounds. */
  redis?: { cpuUs: number; commands: number; sent: number };
};

function summarizeDrain(records: DrainRecord[]): DrainSummary {
  return {
    ordersPerSec: Math.round(median(records.map((r) => r.ordersPerSec))),
    jobs: records[0]?.jobs ?? 0,
    maxRssMb: Math.max(...records.map((r) => r.workerMaxRssMb)),
    rejected: records.reduce((a, r) => a + (r.purchases.rejected ?? 0), 0),
    workerCpuUsPerOrder: median(records.map((r) => r.workerCpuUsPerOrder)),
    avgBatch: median(records.map((r) => r.avgBatch ?? NaN)),
    ...redisOf(records.map((r) => r.redis)),
  };
}

export type Ratios = { admitVsHello: number; soldoutVsHello: number; admitVsNaive: number; drainVsBatch1: number };

function ratiosOf(s: Record<ScenarioId, ScenarioSummary>, drain: DrainSummary, drain1: DrainSummary): Ratios {
  return {
    admitVsHello: round2(s.admit.reqPerSec / s.hello.reqPerSec),
    soldoutVsHello: round2(s.soldout.reqPerSec / s.hello.reqPerSec),
    admitVsNaive: round2(s.admit.reqPerSec / s.naive.reqPerSec),
    drainVsBatch1: round2(drain.ordersPerSec / drain1.ordersPerSec),
  };
}

/** The same ratios inside each round: both sides ran seconds apart. */
function perRoundRatios(runs: RunRecord[], rounds: number): Record<string, number>[] {
  return Array.from({ length: rounds }, (_, i) => {
    const rps = (s: ScenarioId) => runs.find((r) => r.round === i + 1 && r.scenario === s)?.reqPerSec ?? NaN;
    return {
      round: i + 1,
      admitVsHello: round2(rps('admit') / rps('hello')),
      soldoutVsHello: round2(rps('soldout') / rps('hello')),
      admitVsNaive: round2(rps('admit') / rps('naive')),
    };
  });
}

function perRoundDrainRatios(drains: { grouped: DrainRecord[]; batch1: DrainRecord[] }): number[] {
  return drains.grouped.map((d, i) => round2(d.ordersPerSec / (drains.batch1[i]?.ordersPerSec ?? NaN)));
}

export type TargetCheck = { target: string; value: number; pass: boolean; note?: string };

function checkTargets(s: Record<ScenarioId, ScenarioSummary>, ratios: Ratios, apiRssMb: number, opts: Options): TargetCheck[] {
  const at100 = opts.connections === 100 ? undefined : `measured at ${opts.connections} connections, the target is stated at 100`;
  const limitsOff = opts.rateLimits === 'off' ? { note: 'measured with rate limits off; the target is stated with them on' } : {};
  const redis = s.admit.redis;
  return [
    { target: `admitting >= ${TARGETS.admitVsHello}x bare Express`, value: ratios.admitVsHello, pass: ratios.admitVsHello >= TARGETS.admitVsHello },
    {
      target: `admitting p99 <= ${TARGETS.admitP99Ms} ms at 100 connections`,
      value: s.admit.p99Ms,
      pass: s.admit.p99Ms <= TARGETS.admitP99Ms,
      ...(at100 ? { note: at100 } : {}),
    },
    {
      target: `sold-out >= ${TARGETS.soldoutVsHello}x bare Express`,
      value: ratios.soldoutVsHello,
      pass: ratios.soldoutVsHello >= TARGETS.soldoutVsHello,
    },
    { target: `admitting >= ${TARGETS.admitVsNaive}x naive`, value: ratios.admitVsNaive, pass: ratios.admitVsNaive >= TARGETS.admitVsNaive },
    { target: `drain >= ${TARGETS.drainVsBatch1}x batch-1 worker`, value: ratios.drainVsBatch1, pass: ratios.drainVsBatch1 >= TARGETS.drainVsBatch1 },
    { target: `API RSS <= ${TARGETS.apiRssMb} MB`, value: apiRssMb, pass: apiRssMb <= TARGETS.apiRssMb },
    ...(redis
      ? [
          {
            target: `Redis CPU <= ${TARGETS.redisUsPerPurchase} µs per purchase (admitting)`,
            value: redis.cpuUs,
            pass: redis.cpuUs <= TARGETS.redisUsPerPurchase,
            ...limitsOff,
          },
          {
            target: `Redis commands <= ${TARGETS.redisCommandsPerPurchase} per purchase (admitting, inside scripts included)`,
            value: redis.commands,
            pass: redis.commands <= TARGETS.redisCommandsPerPurchase,
            ...limitsOff,
          },
        ]
      : []),
  ];
}

function statusNote(s: ScenarioSummary, expectedStatus: number, serverName: string): string {
  const others = Object.entries(s.statusCounts).filter(([code]) => code !== String(expectedStatus));
  const parts = [`${expectedStatus}: ${s.expected}`, others.length ? `other: ${others.map(([c, n]) => `${c}×${n}`).join(' ')}` : 'other: 0'];
  if (s.unexpected > others.reduce((a, [, n]) => a + n, 0)) parts.push('connection errors/timeouts: see results.json');
  if (s.tokensWrapped) parts.push('token pool wrapped');
  const cpu = (name: string) => s.cpuUsPerReq[name];
  const also = ['worker', 'redis'].filter((n) => cpu(n) !== undefined).map((n) => `, ${n} ${cpu(n)}`).join('');
  parts.push(`CPU µs/req: server ${cpu(serverName)}${also}, loadgen ${cpu('loadgen')}`);
  if (s.workerMaxRssMb !== undefined) parts.push(`worker RSS ${s.workerMaxRssMb} MB`);
  if (s.workerAvgBatch !== undefined) parts.push(`worker ${s.workerAvgBatch} orders/transaction`);
  if (s.redis) parts.push(redisNote(s.redis));
  return parts.join('; ');
}

const redisNote = (r: { cpuUs: number; commands: number; sent: number }) =>
  `**Redis ${r.cpuUs} µs, ${r.commands} commands (${r.sent} sent) per purchase**`;

type Report = {
  s: Record<ScenarioId, ScenarioSummary>;
  dGrouped: DrainSummary;
  d1: DrainSummary;
  ratios: Ratios;
  /** The same ratios within each round (a and b and c of one round ran back to back). */
  byRound: Record<string, number>[];
  drainByRound: number[];
  checks: TargetCheck[];
  redis: RedisFigures;
};

type RedisFigures = { admitting?: RedisBreakdown; drainGrouped?: RedisBreakdown; admittingByRound: { round: number; cpuUs: number; commands: number; sent: number }[] };

/** `min–max` of one ratio across rounds, or the single value. */
function spread(values: number[]): string {
  const ok = values.filter((v) => Number.isFinite(v));
  if (ok.length === 0) return '–';
  const lo = Math.min(...ok);
  const hi = Math.max(...ok);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

const drainNote = (d: DrainSummary) =>
  `${d.jobs} jobs pre-filled over HTTP; rejected ${d.rejected}; ${d.avgBatch} orders/transaction; worker CPU ${d.workerCpuUsPerOrder} µs/order` +
  (d.redis ? `; pre-fill + drain: ${redisNote(d.redis)}` : '');

export type ReportContext = { redis: string; rateLimits: string };

function markdown({ s, dGrouped, d1, ratios, byRound, drainByRound, checks, redis }: Report, opts: Options, context: ReportContext): string {
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    `Median of ${opts.rounds} interleaved round(s), ${opts.duration} s each after ${opts.warmup} s warm-up, ${opts.connections} connections; ` +
      `${context.rateLimits}; Redis: ${context.redis}.`,
    '',
    row(['scenario', 'req/s', 'p50 ms', 'p99 ms', 'max RSS MB', 'notes']),
    row(['---', '---:', '---:', '---:', '---:', '---']),
    ...SCENARIOS.map((sc) => {
      const x = s[sc.id];
      return row([sc.label, x.reqPerSec, x.p50Ms, x.p99Ms, x.maxRssMb, statusNote(x, sc.expectedStatus, sc.serverName)]);
    }),
    row([`(d) worker drain, group commit (batch ≤ ${WORKER_BATCH_DEFAULTS.size})`, `${dGrouped.ordersPerSec} orders/s`, '–', '–', dGrouped.maxRssMb, drainNote(dGrouped)]),
    row(['(d) worker drain, batch 1', `${d1.ordersPerSec} orders/s`, '–', '–', d1.maxRssMb, drainNote(d1)]),
    '',
    row(['ratio', 'value (of medians)', 'by round']),
    row(['---', '---:', '---:']),
    row(['b_admit / a', ratios.admitVsHello, spread(byRound.map((r) => r.admitVsHello!))]),
    row(['b_soldout / a', ratios.soldoutVsHello, spread(byRound.map((r) => r.soldoutVsHello!))]),
    row(['b_admit / c', ratios.admitVsNaive, spread(byRound.map((r) => r.admitVsNaive!))]),
    row(['drain group commit / batch 1', ratios.drainVsBatch1, spread(drainByRound)]),
    '',
    row(['target', 'measured', 'result']),
    row(['---', '---:', '---']),
    ...checks.map((c) => row([c.target, c.value, `${c.pass ? 'PASS' : 'FAIL'}${c.note ? ` (${c.note})` : ''}`])),
    ...redisSections(redis, context),
  ];
  return lines.join('\n');
}

function redisSections(redis: RedisFigures, context: ReportContext): string[] {
  const sections: string[] = [];
  if (redis.admitting) {
    const rounds = redis.admittingByRound.map((r) => `round ${r.round}: ${r.cpuUs} µs, ${r.commands} commands (${r.sent} sent)`).join('; ');
    sections.push(
      '',
      redisMarkdown('Redis per purchase: (b) admitting, whole runs (warm-up, window, drain), pooled over rounds', redis.admitting, [
        `Rate limits: ${context.rateLimits}`,
        `Redis: ${context.redis}; the bench's own commands (INFO, the sampler, its queue polls) are left out of the counts, not out of the CPU`,
        `Time-driven work (backlog polls, sweeps, BullMQ's marker waits) is in, spread over the purchases; by round: ${rounds}`,
      ]),
    );
  }
  if (redis.drainGrouped) {
    sections.push('', redisMarkdown('Redis per purchase: (d) pre-fill + drain, group commit', redis.drainGrouped, [`Rate limits: ${context.rateLimits}`]));
  }
  return sections;
}

/** Everything the run's results.json and table say, from its runs and drains. */
export function report(runs: RunRecord[], drains: { grouped: DrainRecord[]; batch1: DrainRecord[] }, opts: Options, context: ReportContext) {
  const summaries = Object.fromEntries(
    SCENARIOS.map((sc) => [sc.id, summarize(runs.filter((r) => r.scenario === sc.id), sc.serverName)]),
  ) as Record<ScenarioId, ScenarioSummary>;
  const dGrouped = summarizeDrain(drains.grouped);
  const d1 = summarizeDrain(drains.batch1);
  const ratios = ratiosOf(summaries, dGrouped, d1);
  const prefillRss = [...drains.grouped, ...drains.batch1].map((d) => d.prefill.apiRssMb);
  const apiRssMb = Math.max(summaries.admit.maxRssMb, summaries.soldout.maxRssMb, ...prefillRss);
  const checks = checkTargets(summaries, ratios, apiRssMb, opts);
  const byRound = perRoundRatios(runs, opts.rounds);
  const drainByRound = perRoundDrainRatios(drains);
  const admitRedis = runs.filter((r) => r.scenario === 'admit' && r.redis);
  const pooledAdmit = poolRedis(admitRedis.map((r) => r.redis!));
  const pooledDrain = poolRedis(drains.grouped.map((d) => d.redis));
  const redis: RedisFigures = {
    ...(pooledAdmit ? { admitting: breakdown(pooledAdmit) } : {}),
    ...(pooledDrain ? { drainGrouped: breakdown(pooledDrain) } : {}),
    admittingByRound: admitRedis.map((r) => ({ round: r.round, ...perPurchase(r.redis!) })),
  };
  const table = markdown({ s: summaries, dGrouped, d1, ratios, byRound, drainByRound, checks, redis }, opts, context);
  return { summaries, dGrouped, d1, ratios, apiRssMb, checks, byRound, drainByRound, redis, table };
}
