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
} as const satisfies Record<string, IntFlag>;
type IntFlagName = keyof typeof INT_FLAGS;

export function usage(): string {
  const lines = Object.entries(INT_FLAGS).map(([name, f]) => `  --${name} N`.padEnd(26) + `${f.help} (${f.min}-${f.max})`);
  return ['usage: npx tsx bench/run.ts [flags]', ...lines, '  --help'.padEnd(26) + 'this text'].join('\n');
}

function flag(name: IntFlagName, raw: string | undefined, def: number): number {
  return raw === undefined ? def : intFlag(name, raw, INT_FLAGS[name].min, INT_FLAGS[name].max);
}

/** Parses and validates the command line; throws with a readable message on anything unknown. */
export function parseOptions(argv: string[]): Options | 'help' {
  const options: NonNullable<ParseArgsConfig['options']> = { help: { type: 'boolean', short: 'h' } };
  for (const name of Object.keys(INT_FLAGS)) options[name] = { type: 'string' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help === true) return 'help';
  const raw = (name: IntFlagName): string | undefined => {
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
  });
}
