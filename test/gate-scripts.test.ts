import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parseGateRecord } from '../src/gate/record';
import { SCRIPT_FILES, scriptSource } from '../src/gate/scripts';
import { TEST_REDIS_URL } from './env';

const LUA_DIR = path.join(__dirname, '..', 'src', 'gate', 'lua');

/** The gate's Lua: one file per script, the record formats in one include inlined at load. */
describe('Gate scripts and their shared record format', () => {
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    await redis.quit();
  });

  it('When each script is loaded, then its includes are inlined and Redis compiles it', async () => {
    const usingInclude = SCRIPT_FILES.filter((f) => fs.readFileSync(path.join(LUA_DIR, `${f}.lua`), 'utf8').includes('--- @include "records"'));
    // Every script that reads or writes a purchase record or an unqueued entry takes the format from the include.
    expect(usingInclude).toEqual(expect.arrayContaining(['admit-7', 'claim-2', 'release-6', 'finalize-5', 'rebuild-7', 'settle-hold-4', 'reject-orphans-6', 'orphan-candidates-1']));
    for (const file of SCRIPT_FILES) {
      const source = scriptSource(file);
      expect({ file, include: /@include/.test(source) }).toEqual({ file, include: false });
      if (usingInclude.includes(file)) expect(source).toContain('local function parseRecord');
      const sha = (await redis.script('LOAD', source)) as string;
      expect(sha).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('When no script spells the record format itself, then a change of format is one edit', () => {
    for (const file of SCRIPT_FILES) {
      const raw = fs.readFileSync(path.join(LUA_DIR, `${file}.lua`), 'utf8');
      // Building a record by hand ("status" .. '|' ..) or matching one with a pattern belongs in the include.
      expect({ file, builds: /\.\. '\|' \.\.|'\^\(%a\+\)/.test(raw) }).toEqual({ file, builds: false });
    }
  });

  it('When Lua and TypeScript parse the same record, then they agree, even with a | in the user id', async () => {
    const include = fs.readFileSync(path.join(LUA_DIR, 'includes', 'records.lua'), 'utf8');
    const roundTrip = `${include}\nlocal s, q, c, u = parseRecord(ARGV[1])\nreturn { s, q, c, u, formatRecord(s, q, c, u) }`;
    const rec = 'processing|3|1764470000123|team|alice';
    const [status, quantity, createdAt, userId, again] = (await redis.eval(roundTrip, 0, rec)) as string[];
    expect(again).toBe(rec);
    expect(parseGateRecord(rec)).toEqual({ status, quantity: Number(quantity), createdAtMs: Number(createdAt), userId });
    expect(parseGateRecord(rec)?.userId).toBe('team|alice');
  });

  it('When a record is malformed or missing, then the TypeScript parser says so', () => {
    for (const bad of [null, undefined, '', 'queued', 'queued|x|1|u', 'queued|1|1']) expect(parseGateRecord(bad)).toBeUndefined();
  });
});
