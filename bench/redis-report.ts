/**
 * Redis per purchase, from the phases' totals (harness/redis-meter.ts): CPU, commands (all
 * that Redis ran, and those clients sent), what the clients sent by script and command
 * (calls from the census, execution µs per call from the SLOWLOG sample), and INFO
 * commandstats by command name.
 */
import { SCRIPT_FILES } from '../src/gate/scripts';
import { perPurchase, RedisTotals } from './harness/redis-meter';

/** What each script or command is for in the engine (src/ is where they are issued). */
const WHAT: Record<string, string> = {
  // Sent: scripts (EVALSHA) and commands, with the code path that issues them.
  'admit-8': 'the gate, one per attempt (API, admission.ts)',
  'BullMQ addStandardJob': 'the shared queue job: one per add, the purchases of one event-loop turn (API, enqueue-batcher.ts)',
  'BullMQ moveToActive': 'a worker takes a job (worker, BullMQ)',
  'BullMQ moveToFinished': 'a worker completes a job and takes the next (worker, BullMQ)',
  'BullMQ extendLocks': "renews the active jobs' locks (worker, BullMQ)",
  'BullMQ moveStalledJobsToWait': 'stalled-job check, every 30 s (worker, BullMQ)',
  'BullMQ addDelayedJob': 'hold expiry jobs: one per sale and second of a batch (worker, holds.ts scheduleHoldExpiries)',
  'BullMQ getCounts': "backlog poll every 250 ms (API, backlog.ts; the bench's own polls left out)",
  'claim-2': 'claims a batch, queued → processing (worker, processor.ts)',
  'finalize-6': "applies a committed batch's outcomes to the gate and writes their views, the read model (worker, processor.ts)",
  'write-views-2': 'views written outside a decision: payments, hold ends, orphans (read-model.ts writeReadModel)',
  'orphan-candidates-1': 'orphan sweep, every 5 s per sale with live keys (worker, orphan-sweep.ts)',
  evalsha: 'every script call (split by script in the table above)',
  set: 'BullMQ (locks, markers)',
  spublish: "pushes: a worker batch's outcomes on its sale's outcome channel, one per batch; a payment's or hold end's to the owner's room (realtime/emitter.ts)",
  hdel: "sent: the `:unqueued` marker, one per add (API, queue.ts markQueued); inside: claim-2 and finalize-6, one per batch",
  bzpopmin: 'BullMQ workers waiting for a job marker (purchase and hold queues)',
  multi: 'BullMQ addBulk of the hold jobs (worker)',
  exec: 'BullMQ addBulk of the hold jobs (worker)',
  // Inside scripts: what each is, per purchase.
  hincrby: 'inside: admit-8 ×2 (admitted, admittedUnits), finalize-6 one per counter per batch (decidedUnits, confirmed, rejected:<reason>) plus one per rejection (the shopper\'s units)',
  hset: "inside: admit-8 ×3 (the shopper's units + window + latest ids, the record, the `:unqueued` marker), claim-2 and finalize-6 one per batch (records; views); BullMQ job fields",
  hget: 'inside: admit-8 only for a keyed retry or a replayed command (the record it returns)',
  pttl: "inside: finalize-6 and write-views-2, once per batch (the views hash's expiry); admit-8 only on a sale's first admission",
  hmget: "inside: admit-8 ×2 (the sale's meta; the shopper's units, window and latest ids); claim-2 and finalize-6 read a batch's records; BullMQ",
  get: 'inside: admit-8 reads remaining',
  decrby: 'inside: admit-8 takes the units',
  zadd: 'inside: BullMQ (delayed, prioritized)',
  xadd: 'inside: BullMQ event stream (added, active, completed, ...), per job',
  hmset: 'inside: BullMQ job hash, per job',
};

/** `fsAdmitV4` → `admit-8`, `moveToFinished:6.7.0` → `BullMQ moveToFinished`. */
export function scriptLabel(name: string): string {
  const engine = /^fs([A-Za-z]+?)V\d+$/.exec(name);
  if (engine) {
    const kebab = engine[1]!.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();
    return SCRIPT_FILES.find((f) => f.startsWith(`${kebab}-`)) ?? kebab;
  }
  const bull = /^([A-Za-z]+):\d+\.\d+\.\d+/.exec(name);
  return bull ? `BullMQ ${bull[1]}` : name;
}

/** Sums phases (rounds) into one. */
export function poolRedis(phases: RedisTotals[]): RedisTotals | undefined {
  if (phases.length === 0) return undefined;
  const addCounts = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  const out: RedisTotals = {
    purchases: 0,
    seconds: 0,
    cpuUs: 0,
    server: {},
    sent: {},
    scripts: {},
    args: {},
    sampled: {},
    sampleWindows: 0,
    sampleEntries: 0,
    entryUs: 0,
  };
  for (const t of phases) {
    out.purchases += t.purchases;
    out.seconds = Math.round((out.seconds + t.seconds) * 10) / 10;
    out.cpuUs += t.cpuUs;
    // The logging cost of the phases, weighted by the entries each logged.
    out.entryUs = (out.entryUs * out.sampleEntries + t.entryUs * t.sampleEntries) / Math.max(1, out.sampleEntries + t.sampleEntries);
    out.sampleWindows += t.sampleWindows;
    out.sampleEntries += t.sampleEntries;
    addCounts(out.sent, t.sent);
    addCounts(out.scripts, t.scripts);
    addCounts(out.args, t.args);
    for (const [k, v] of Object.entries(t.server)) {
      const prev = out.server[k] ?? { calls: 0, usec: 0 };
      out.server[k] = { calls: prev.calls + v.calls, usec: prev.usec + v.usec };
    }
    for (const [k, v] of Object.entries(t.sampled)) {
      const prev = out.sampled[k] ?? { samples: 0, kept: 0, usec: 0, inner: 0, args: 0 };
      out.sampled[k] = { samples: prev.samples + v.samples, kept: prev.kept + v.kept, usec: prev.usec + v.usec, inner: prev.inner + v.inner, args: prev.args + v.args };
    }
  }
  return out;
}

/** One command or script the engine's clients sent: per purchase, and its sampled execution time. */
export type SentRow = {
  sent: string;
  calls: number;
  /** Commands per purchase: the calls, plus for a script the commands Lua ran in them (scaled from the sample by arguments). */
  commands: number | null;
  /** Mean of the sampled calls (a batch script's depends on its batches). */
  usPerCall: number | null;
  /** Sampled µs per argument × arguments sent per purchase (for a fixed-arity command: calls × µs per call). */
  us: number | null;
  samples: number;
  what?: string;
};
/** One command as INFO commandstats counts it (Lua's own calls included). */
export type CommandRow = { command: string; calls: number; sent: number; inScripts: number; us: number; what?: string };

export type RedisBreakdown = {
  purchases: number;
  seconds: number;
  /** redis-server CPU per purchase, µs. */
  cpuUs: number;
  /** Every command Redis ran per purchase (commandstats: includes those inside Lua scripts). */
  commands: number;
  /** Commands the engine's clients sent per purchase (each one read, parsed and answered). */
  sent: number;
  /** Execution of the sent commands per purchase, from the SLOWLOG sample (null without one). */
  execUs: number | null;
  /** commandstats usec per purchase, all commands (wall-clock: can exceed the CPU on a busy machine). */
  commandstatsUs: number;
  sentRows: SentRow[];
  /** The sent rows' commands per purchase added up: should meet `commands` (a check of census + sample against commandstats). */
  rowsCommands: number | null;
  commandRows: CommandRow[];
  sampleWindows: number;
  /** What the sampler's logging cost Redis per purchase (entries × measured cost per entry; freeing them not included). */
  samplerUs: number;
  entryUs: number;
};

const r2 = (x: number) => Math.round(x * 100) / 100;
const r1 = (x: number) => Math.round(x * 10) / 10;

export function breakdown(t: RedisTotals): RedisBreakdown {
  const p = Math.max(1, t.purchases);
  const x = perPurchase(t);
  // What was sent: every script by name, every other command by its name.
  const sentCounts: [string, number][] = [
    ...Object.entries(t.scripts),
    ...Object.entries(t.sent).filter(([name]) => name !== 'evalsha'),
  ];
  // Sampled cost per argument × arguments sent: calls × µs per call for a fixed-arity command,
  // and scaled by size for a batch script (its sampled calls need not be its average batch).
  const perPurchaseOf = (raw: string, field: 'usec' | 'inner') => {
    const s = t.sampled[raw];
    if (!s || s.kept === 0) return null;
    return (s[field] / Math.max(1, s.args)) * ((t.args[raw] ?? 0) / p);
  };
  const sentRows: SentRow[] = sentCounts.map(([raw, calls]) => {
    const s = t.sampled[raw];
    const isScript = raw in t.scripts;
    const label = isScript ? scriptLabel(raw) : raw;
    const us = perPurchaseOf(raw, 'usec');
    const inner = isScript ? perPurchaseOf(raw, 'inner') : 0;
    return {
      sent: label,
      calls: r2(calls / p),
      commands: inner === null ? null : r2(calls / p + inner),
      usPerCall: s && s.kept > 0 ? r1(s.usec / s.kept) : null,
      us: us === null ? null : r1(us),
      samples: s?.samples ?? 0,
      ...(WHAT[label] ? { what: WHAT[label] } : {}),
    };
  });
  sentRows.sort((a, b) => (b.us ?? -1) - (a.us ?? -1) || b.calls - a.calls);
  const sampledUsec = sentCounts.reduce((a, [raw]) => a + (perPurchaseOf(raw, 'usec') ?? 0), 0) * p;

  const commandRows: CommandRow[] = Object.entries(t.server).map(([command, c]) => {
    const sent = Math.min(c.calls, t.sent[command] ?? 0);
    return {
      command,
      calls: r2(c.calls / p),
      sent: r2(sent / p),
      inScripts: r2((c.calls - sent) / p),
      us: r1(c.usec / p),
      ...(WHAT[command] ? { what: WHAT[command] } : {}),
    };
  });
  commandRows.sort((a, b) => b.us - a.us || b.calls - a.calls);
  return {
    purchases: t.purchases,
    seconds: t.seconds,
    cpuUs: x.cpuUs,
    commands: x.commands,
    sent: x.sent,
    execUs: t.sampleWindows > 0 ? r1(sampledUsec / p) : null,
    commandstatsUs: r1(Object.values(t.server).reduce((a, c) => a + c.usec, 0) / p),
    sentRows,
    rowsCommands: t.sampleWindows > 0 ? r1(sentRows.reduce((a, r) => a + (r.commands ?? 0), 0)) : null,
    commandRows,
    sampleWindows: t.sampleWindows,
    samplerUs: r1((t.sampleEntries * t.entryUs) / p),
    entryUs: Math.round(t.entryUs * 100) / 100,
  };
}

/** Rows worth a line: at least 0.01 calls or 0.1 µs per purchase; the rest summed in one line. */
function split<T extends { calls: number; us: number | null }>(rows: T[]): { shown: T[]; rest: { n: number; calls: number; us: number } } {
  const shown = rows.filter((r) => r.calls >= 0.01 || (r.us ?? 0) >= 0.1);
  const hidden = rows.filter((r) => !shown.includes(r));
  return { shown, rest: { n: hidden.length, calls: r2(hidden.reduce((a, r) => a + r.calls, 0)), us: r1(hidden.reduce((a, r) => a + (r.us ?? 0), 0)) } };
}

/** The markdown of one breakdown: headline, what clients sent (by script), what Redis ran (commandstats). */
export function redisMarkdown(title: string, x: RedisBreakdown, context: string[]): string {
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const sent = split(x.sentRows);
  const commands = split(x.commandRows);
  const rest = x.execUs === null ? null : r1(x.cpuUs - x.execUs);
  return [
    `### ${title}`,
    '',
    `**Redis µs per purchase: ${x.cpuUs}** (redis-server CPU, user + system) · **Redis commands per purchase: ${x.commands}** ` +
      `(every command Redis ran, those inside Lua scripts included) · ${x.sent} commands sent by clients per purchase · ` +
      `${x.purchases} purchases decided in ${x.seconds} s`,
    '',
    ...context.map((c) => `${c}.`),
    '',
    `What the engine's clients sent, per purchase (calls counted in the clients, EVALSHA by script; commands: the calls and ` +
      `what Lua ran inside them; µs: each command's own execution in a SLOWLOG sample, ${x.sampleWindows} windows of 50 ms, ` +
      `two a second, preempted calls left out and the logging of a script's inner commands, ${x.entryUs} µs each as measured, ` +
      'taken off; per purchase = sampled µs (and inner commands) per argument × arguments sent per purchase, so a batch ' +
      "script's figure follows its real batch sizes):",
    '',
    row(['sent', 'calls/purchase', 'commands/purchase', 'µs/call (sampled)', 'µs/purchase', 'samples', 'what for']),
    row(['---', '---:', '---:', '---:', '---:', '---:', '---']),
    ...sent.shown.map((c) => row([c.sent, c.calls, c.commands ?? '–', c.usPerCall ?? '–', c.us ?? '–', c.samples, c.what ?? ''])),
    ...(sent.rest.n ? [row([`${sent.rest.n} others`, sent.rest.calls, '', '', sent.rest.us, '', ''])] : []),
    '',
    x.execUs === null
      ? 'No SLOWLOG sample (shared Redis): no execution time per script.'
      : `The rows add up to ${x.rowsCommands} commands per purchase (commandstats counted ${x.commands}; a script never sampled adds none). ` +
        `Sampled execution of the sent commands: ${x.execUs} µs per purchase; the other ${rest} µs of Redis's CPU ` +
        `(~${r1((rest ?? 0) / Math.max(0.01, x.sent))} µs per command sent) go to reading, parsing and answering commands, ` +
        `the network, keyspace and pub/sub bookkeeping, and the sampler itself (~${x.samplerUs} µs per purchase for logging its entries, more to free them).`,
    '',
    `What Redis ran (INFO commandstats, per purchase; usec is wall-clock inside the command, ${x.commandstatsUs} µs in all, ` +
      "so preemption on a busy machine counts; EVALSHA's includes the commands its script runs, listed again below it):",
    '',
    row(['command', 'calls/purchase', 'sent by clients', 'inside scripts', 'µs/purchase', 'what for']),
    row(['---', '---:', '---:', '---:', '---:', '---']),
    ...commands.shown.map((c) => row([c.command, c.calls, c.sent, c.inScripts, c.us, c.what ?? ''])),
    ...(commands.rest.n ? [row([`${commands.rest.n} others`, commands.rest.calls, '', '', commands.rest.us, ''])] : []),
  ].join('\n');
}
