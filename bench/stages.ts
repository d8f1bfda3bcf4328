/**
 * Where does an attempt's API CPU go? Runs the attempt route built up one piece at a time
 * (bench/servers/stages.ts: Express alone, + security headers and request id, + JWT, +
 * body and validation, + the Lua gate, + the whole admission) and
 * the engine's API itself, each its own process with the engine's Node flags, all side
 * by side, and loads them in turn, round after round, so the machine's drift hits each
 * alike. Prints each stage's CPU per request (median over rounds) and what it added.
 *
 *   npx tsx bench/stages.ts [--rounds N] [--duration S] [--connections C] [--engine-flags="FLAGS"]...
 *
 * `--engine-flags` (repeatable) adds an engine process started with those Node flags
 * instead of the shipped ones (src/config/node-flags.ts), loaded in the same rounds, e.g.
 * `--engine-flags="--max-semi-space-size=8"` (with `=`: the value starts with a dash): how
 * GC settings move CPU and max RSS.
 *
 * No worker runs: this is the API process alone (the queue fills and is removed at the
 * end). Uses the bench's storage (database flashsale_bench, Redis DB 2): not while
 * `npm run bench` runs. About (stages + 1) x rounds x duration seconds, plus set-up.
 */
import { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import { API_NODE_FLAGS } from '../src/config/node-flags';
import { signToken } from '../src/modules/auth/tokens';
import { createPurchaseQueue } from '../src/modules/purchases/queue';
import { createKeys } from '../src/gate/keys';
import { Stage, STAGES } from './servers/stage-names';
import { prepareDatabase } from '../src/lib/migration-source';
import { buildCompiled, childEnv, createSale, DATABASE_URL, HOST, intFlag, median, readCpuMs, readRssMb, REDIS_PREFIX, REDIS_URL, startChild } from './stack';

const log = (msg: string) => process.stderr.write(`[stages] ${msg}\n`);

const ADDS: Record<Stage | 'engine', string> = {
  express: 'Express 5 app, POST route, 202 JSON reply',
  headers: "+ helmet's headers, request id",
  auth: '+ JWT verification',
  body: '+ JSON body, zod validation',
  gate: '+ Lua gate (admit-8)',
  admission: '+ shared queue add (attemptPurchase)',
  engine: "the engine's API process (all routes, Socket.io, sold-out lane)",
};

type Runner = { name: string; adds: string; child: ChildProcess; url: string; tokens: string[]; used: number; maxRssMb: number };
type Sample = { usPerReq: number; reqPerSec: number; unexpected: number };

/** One load run on one server: fresh shoppers, 202 expected; CPU of the server process per response. */
async function measure(r: Runner, durationS: number, connections: number): Promise<Sample> {
  const cpu0 = readCpuMs(r.child.pid!)!;
  const result = await autocannon({
    url: r.url,
    method: 'POST',
    connections,
    duration: durationS,
    body: JSON.stringify({ quantity: 1 }),
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (req) => {
          req.headers = { ...req.headers, authorization: r.tokens[r.used++ % r.tokens.length]! };
          return req;
        },
      },
    ],
  });
  const cpuMs = readCpuMs(r.child.pid!)! - cpu0;
  const responses = result.requests.total;
  return { usPerReq: Math.round((cpuMs * 1000) / responses), reqPerSec: Math.round(result.requests.average), unexpected: responses - result['2xx'] };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '3' },
      connections: { type: 'string', default: '100' },
      'engine-flags': { type: 'string', multiple: true, default: [] },
    },
    strict: true,
  });
  const rounds = intFlag('rounds', values.rounds, 1, 20);
  const duration = intFlag('duration', values.duration, 1, 60);
  const connections = intFlag('connections', values.connections, 1, 1000);

  buildCompiled();
  await prepareDatabase(DATABASE_URL);
  const secret = randomBytes(16).toString('hex');
  const queueName = `stages-${randomBytes(4).toString('hex')}`;
  // No worker drains this queue: let it hold every admitted purchase of the run.
  const env = childEnv(secret, queueName, { QUEUE_MAX_BACKLOG: '100000000' });
  // Enough shoppers that no server sees one twice (a repeat would be refused, and cheaper).
  const perServer = Math.min(400_000, rounds * duration * 8_000);
  log(`minting ${perServer} shopper tokens`);
  const tokens = Array.from({ length: perServer }, (_, i) => `Bearer ${signToken({ sub: `stage-${i}` }, secret, 3600)}`);

  const runners: Runner[] = [];
  try {
    const servers = [
      ...[...STAGES, 'engine' as const].map((stage) => ({ name: stage, adds: ADDS[stage], flags: [...API_NODE_FLAGS] })),
      ...values['engine-flags'].map((f) => ({ name: `engine ${f}`, adds: `the engine's API process with ${f} instead`, flags: f.split(/\s+/).filter(Boolean) })),
    ];
    for (const { name, adds, flags } of servers) {
      const script = name.startsWith('engine') ? 'dist/bench/servers/engine.js' : 'dist/bench/servers/stages.js';
      const { child, line } = await startChild([...flags, script], { ...env, STAGE: name }, /^READY \d+/);
      runners.push({ name, adds, child, url: `http://${HOST}:${line.split(' ')[1]}`, tokens, used: 0, maxRssMb: 0 });
    }
    const rssTimer = setInterval(() => {
      for (const r of runners) r.maxRssMb = Math.max(r.maxRssMb, readRssMb(r.child.pid!) ?? 0);
    }, 200);
    rssTimer.unref();
    const engineUrl = runners.find((r) => r.name === 'engine')!.url; // its admin API creates every sale
    const admin = signToken({ sub: 'stages-admin', role: 'admin' }, secret);
    // A sale of its own for every server that reaches the gate, so shoppers are new to it.
    for (const r of runners) {
      const saleId = await createSale(engineUrl, admin, { name: `stages ${r.name}`, stock: 5_000_000, perUserLimit: 1 });
      r.url = `${r.url}/api/sales/${saleId}/purchases`;
    }

    const samples = new Map<string, Sample[]>(runners.map((r) => [r.name, []]));
    for (let round = 1; round <= rounds; round++) {
      for (const r of runners) {
        const s = await measure(r, duration, connections);
        samples.get(r.name)!.push(s);
        log(`round ${round}/${rounds} ${r.name.padEnd(9)} ${String(s.reqPerSec).padStart(6)} req/s  ${String(s.usPerReq).padStart(4)} µs/req  unexpected ${s.unexpected}`);
      }
    }

    console.log(`\nAPI CPU per attempt, by stage (median of ${rounds} rounds of ${duration} s, ${connections} connections, Node flags ${API_NODE_FLAGS.join(' ')}):\n`);
    console.log('| stage | what it adds | CPU µs/req | added µs | req/s | max RSS MB | non-202 |');
    console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    let previous: number | undefined;
    for (const r of runners) {
      const s = samples.get(r.name)!;
      const us = median(s.map((x) => x.usPerReq));
      const added = previous === undefined || r.name.startsWith('engine') ? '' : String(us - previous);
      const cells = [r.name, r.adds, us, added, median(s.map((x) => x.reqPerSec)), Math.round(r.maxRssMb), s.reduce((a, x) => a + x.unexpected, 0)];
      console.log(`| ${cells.join(' | ')} |`);
      previous = us;
    }
    console.log('\nCPU per request moves with the machine (about 2x within an hour here); compare stages of one run.');
  } finally {
    for (const r of runners) r.child.kill('SIGTERM');
    await Promise.all(runners.map((r) => new Promise((resolve) => (r.child.exitCode !== null ? resolve(null) : r.child.once('exit', resolve)))));
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
    const queue = createPurchaseQueue(redis, { name: queueName, prefix: createKeys(REDIS_PREFIX).bullPrefix, attempts: 1, backoffMs: 100 });
    await queue.obliterate({ force: true }).catch((err: Error) => log(`could not remove queue ${queueName}: ${err.message}`));
    await queue.close();
    await redis.quit();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`[stages] failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
