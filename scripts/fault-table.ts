/**
 * Prints the figures of the last fault-test run (artifacts/faults/<name>.json, written by
 * test/redis-faults, api-crash and store-faults) as the markdown table docs/reliability.md
 * quotes. Usage: `npm run fault-table` after `npm test` (or `npx jest test/redis-faults.test.ts ...`).
 */
import fs from 'node:fs';
import path from 'node:path';

type Counts = Record<string, number>;
type Figures = {
  fault: { label: string; durationMs: number };
  attempts?: Counts;
  reads?: Counts;
  keyedRetries?: Counts;
  latencyMs?: { all?: { max: number; p99: number } };
  recoveryMs?: number | null;
  settle?: { reached: boolean; msAfterFaultEnd: number };
  quiescence?: { unitsLost: number; orphansSettled?: number; duplicateOrders?: number; sold: number; stock: number };
};

const dir = path.join(__dirname, '..', 'artifacts', 'faults');
const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort() : [];
if (files.length === 0) {
  console.error(`no figures in ${dir}: run the fault tests first (npm test)`);
  process.exit(1);
}

const counts = (c?: Counts) =>
  c && Object.keys(c).length
    ? Object.entries(c)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')
    : '–';
const ms = (v?: number | null) => (v === undefined || v === null ? '–' : `${v}`);

const rows = files.map((file) => {
  const r = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { name: string; at: string; figures: Figures };
  const f = r.figures;
  const q = f.quiescence;
  return [
    `\`${r.name}\``,
    f.fault.label,
    counts(f.attempts),
    counts({ ...(f.reads ?? {}), ...Object.fromEntries(Object.entries(f.keyedRetries ?? {}).map(([k, n]) => [`keyed ${k}`, n])) }),
    ms(f.latencyMs?.all?.max),
    ms(f.recoveryMs),
    f.settle ? (f.settle.reached ? ms(f.settle.msAfterFaultEnd) : 'NOT SETTLED') : '–',
    q ? `${q.unitsLost}` : '–',
    q ? `${q.orphansSettled ?? 0}` : '–',
    q ? `${q.sold}/${q.stock}, dup ${q.duplicateOrders ?? 0}` : '–',
    r.at.slice(0, 16).replace('T', ' '),
  ];
});

const header = ['test', 'fault', 'attempts answered', 'reads answered', 'max ms', 'back after ms', 'all decided after ms', 'units lost', 'orphans settled', 'sold/stock', 'run (UTC)'];
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
