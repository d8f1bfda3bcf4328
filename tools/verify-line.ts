/**
 * `npm run verify-line -- --base http://127.0.0.1:3000 --sale <saleId>`: checks a waiting
 * room's order of service from what it published, with nothing but node:crypto (no engine
 * code): the revealed seed hashes to the commitment published before the start; the
 * pre-queue places come first, in ascending HMAC-SHA256(seed, placeId) (first 13 hex digits,
 * ties by placeId); then the arrivals after the start by arrival number. Exit 0 when the
 * published order is exactly that, 1 otherwise.
 */
import { createHash, createHmac } from 'node:crypto';

export type Place = { placeId: string; position: number; drawn: boolean; arrival: number | null };

/** The order the room must serve, recomputed from the seed alone: place ids, first to last. */
export function recomputeOrder(seed: string, places: Omit<Place, 'position'>[]): string[] {
  const draw = (id: string) => parseInt(createHmac('sha256', seed).update(id).digest('hex').slice(0, 13), 16);
  const drawn = places.filter((p) => p.drawn).map((p) => ({ id: p.placeId, d: draw(p.placeId) }));
  drawn.sort((a, b) => a.d - b.d || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const arrivals = places.filter((p) => !p.drawn).sort((a, b) => a.arrival! - b.arrival!);
  return [...drawn.map((p) => p.id), ...arrivals.map((p) => p.placeId)];
}

/** Problems found (empty: the published order is the fair one). */
export function verify(fairness: { seedHash: string; seed: string | null }, places: Place[]): string[] {
  if (!fairness.seed) return ['the seed is not revealed yet (it is, once the sale has started)'];
  const problems: string[] = [];
  if (createHash('sha256').update(fairness.seed).digest('hex') !== fairness.seedHash) problems.push('SHA-256 of the revealed seed is not the published seedHash');
  const published = [...places].sort((a, b) => a.position - b.position).map((p) => p.placeId);
  const expected = recomputeOrder(fairness.seed, places);
  const firstDiff = expected.findIndex((id, i) => published[i] !== id);
  if (firstDiff >= 0 || expected.length !== published.length) problems.push(`the published order differs from the recomputed one at position ${firstDiff + 1}`);
  return problems;
}

async function main(argv: string[]): Promise<number> {
  const arg = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const base = arg('base') ?? 'http://127.0.0.1:3000';
  const sale = arg('sale');
  if (!sale) {
    process.stderr.write('usage: npm run verify-line -- --base URL --sale SALE_ID\n');
    return 2;
  }
  const get = async <T>(p: string): Promise<T> => {
    const res = await fetch(`${base}${p}`);
    if (!res.ok) throw new Error(`GET ${p}: ${res.status} ${await res.text()}`);
    return res.json() as Promise<T>;
  };
  const fairness = await get<{ seedHash: string; seed: string | null }>(`/api/sales/${sale}/line/fairness`);
  const places: Place[] = [];
  for (let offset = 0; ; offset += 5000) {
    const page = await get<{ items: Place[] }>(`/api/sales/${sale}/line/places?limit=5000&offset=${offset}`);
    places.push(...page.items);
    if (page.items.length < 5000) break;
  }
  const problems = verify(fairness, places);
  for (const p of problems) process.stdout.write(`FAIL ${p}\n`);
  if (problems.length === 0) process.stdout.write(`OK ${places.length} places: the order is the draw from the revealed seed, then arrival order (seedHash ${fairness.seedHash})\n`);
  return problems.length === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    },
  );
}
