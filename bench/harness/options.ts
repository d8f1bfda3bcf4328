/** The command line of `npm run bench`. */
import { parseArgs, ParseArgsConfig } from 'node:util';
import { intFlag } from '../stack';

export type Options = Readonly<{
  rounds: number;
  duration: number;
  warmup: number;
  connections: number;
  drainJobs: number;
  drainJobsBatch1: number;
  drainRounds: number;
  /** on: the engine's default per-shopper limit, the per-IP limiter on but raised (one load generator, one IP); off: both 0. */
  rateLimits: 'on' | 'off';
  /** private: a redis-server of the bench's own on a free port; shared: DB 2 of the Redis on 6379. */
  redis: 'private' | 'shared';
  /** Shoppers in the waiting-room phase (bench/line.ts, after the others); 0 skips it. */
  line: number;
}>;

type IntFlag = { min: number; max: number; help: string };
const INT_FLAGS = {
  rounds: { min: 1, max: 20, help: 'interleaved rounds of (a) (b) (c), default 3' },
  duration: { min: 1, max: 120, help: 'seconds per measured run, default 5' },
  warmup: { min: 0, max: 30, help: 'least seconds of warm-up on the same connections, default 1' },
  connections: { min: 1, max: 1000, help: 'autocannon connections, default 100' },
  // At most 90k: the engine answers 503 OVERLOADED above QUEUE_MAX_BACKLOG (100k waiting jobs).
  'drain-jobs': { min: 100, max: 90_000, help: 'jobs pre-filled for the group-commit drain, default 20000' },
  'drain-jobs-batch1': { min: 100, max: 90_000, help: 'jobs pre-filled for the batch-1 drain, default min(3000, drain-jobs)' },
  'drain-rounds': { min: 1, max: 10, help: 'interleaved rounds of (d), default 1' },
  line: { min: 0, max: 100_000, help: 'shoppers in the waiting-room phase (join, fresh and early polls; bench/line.ts), 0 skips it, default 20000' },
} as const satisfies Record<string, IntFlag>;
type IntFlagName = keyof typeof INT_FLAGS;

const CHOICE_FLAGS = {
  'rate-limits': { values: ['on', 'off'], help: "on (default): the engine's per-shopper limit, the per-IP one raised; off: both 0" },
  redis: { values: ['private', 'shared'], help: "private (default): the bench's own redis-server; shared: DB 2 on 127.0.0.1:6379" },
} as const;
type ChoiceFlagName = keyof typeof CHOICE_FLAGS;

export function usage(): string {
  const lines = Object.entries(INT_FLAGS).map(([name, f]) => `  --${name} N`.padEnd(26) + `${f.help} (${f.min}-${f.max})`);
  const choices = Object.entries(CHOICE_FLAGS).map(([name, f]) => `  --${name} ${f.values.join('|')}`.padEnd(26) + f.help);
  return ['usage: npx tsx bench/run.ts [flags]', ...lines, ...choices, '  --help'.padEnd(26) + 'this text'].join('\n');
}

function flag(name: IntFlagName, raw: string | undefined, def: number): number {
  return raw === undefined ? def : intFlag(name, raw, INT_FLAGS[name].min, INT_FLAGS[name].max);
}

function choice<N extends ChoiceFlagName>(name: N, raw: string | undefined): (typeof CHOICE_FLAGS)[N]['values'][number] {
  const values: readonly string[] = CHOICE_FLAGS[name].values;
  if (raw === undefined) return values[0] as (typeof CHOICE_FLAGS)[N]['values'][number];
  if (!values.includes(raw)) throw new Error(`--${name} must be one of ${values.join(', ')}, got "${raw}"`);
  return raw as (typeof CHOICE_FLAGS)[N]['values'][number];
}

/** Parses and validates the command line; throws with a readable message on anything unknown. */
export function parseOptions(argv: string[]): Options | 'help' {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const name of [...Object.keys(INT_FLAGS), ...Object.keys(CHOICE_FLAGS)]) options[name] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help === true) return 'help';
  const raw = (name: IntFlagName | ChoiceFlagName): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const drainJobs = flag('drain-jobs', raw('drain-jobs'), 20_000);
  return Object.freeze({
    rounds: flag('rounds', raw('rounds'), 3),
    duration: flag('duration', raw('duration'), 5),
    warmup: flag('warmup', raw('warmup'), 1),
    connections: flag('connections', raw('connections'), 100),
    drainJobs,
    drainJobsBatch1: flag('drain-jobs-batch1', raw('drain-jobs-batch1'), Math.min(3000, drainJobs)),
    drainRounds: flag('drain-rounds', raw('drain-rounds'), 1),
    rateLimits: choice('rate-limits', raw('rate-limits')),
    redis: choice('redis', raw('redis')),
    line: flag('line', raw('line'), 20_000),
  });
}
