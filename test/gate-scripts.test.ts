import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import { parseGateRecord } from '../src/gate/record';
import { randomUUID } from 'node:crypto';
import { createKeys, SaleKeys } from '../src/gate/keys';
import { gatePending, loadSaleIntoGate, unqueuedPurchaseIds } from '../src/gate/sale-gate';
import { loadScripts, RECENT_PURCHASES_KEPT, SCRIPT_FILES, ShopperRate, scripts, scriptSource } from '../src/gate/scripts';
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
    expect(usingInclude).toEqual(expect.arrayContaining(['admit-8', 'claim-2', 'release-6', 'finalize-6', 'rebuild-7', 'settle-hold-4', 'reject-orphans-6', 'orphan-candidates-1']));
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

  describe('batch scripts and key expiry (cheaper per purchase, same outcomes)', () => {
    const keys = createKeys(`gs-${randomUUID().slice(0, 8)}`);
    let sale: SaleKeys;
    let saleId: string;
    const load = () => {
      const now = Date.now();
      return loadSaleIntoGate(redis, keys, { id: saleId, startsAt: new Date(now - 1000), endsAt: new Date(now + 3600_000), cancelledAt: null, perUserLimit: 5, stock: 10 });
    };
    const admit = (user: string, nowMs = Date.now(), shopperRate?: ShopperRate) =>
      scripts.admit(redis, sale, { purchaseId: randomUUID(), userId: user, quantity: 1, nowMs, idemKey: '', shopperRate });
    beforeAll(() => loadScripts(redis));
    beforeEach(async () => {
      saleId = randomUUID();
      sale = keys.sale(saleId);
      await load();
    });

    it('When purchases are admitted, then the hashes they create expire with the sale, looked at once (meta kept), and a reload looks again', async () => {
      expect(await redis.hget(sale.meta, 'kept')).toBeNull();
      await admit('u1');
      expect(await redis.hget(sale.meta, 'kept')).toBe('1');
      for (const key of [sale.users, sale.purchases, sale.stats, sale.unqueued]) expect(await redis.pttl(key)).toBeGreaterThan(0);
      // A hash lost after the first admission while the flag stands would stay without expiry: a reload clears the flag.
      await redis.del(sale.stats);
      await load();
      expect(await redis.hget(sale.meta, 'kept')).toBeNull();
      await admit('u2');
      expect(await redis.pttl(sale.stats)).toBeGreaterThan(0);
    });

    it('When a batch is claimed and finalized, then each purchase applies once (even listed twice), rejections give back, and the counters move by the batch', async () => {
      const ids: string[] = [];
      for (const u of ['a', 'b', 'c']) ids.push((await admit(u))[1]!);
      expect(await scripts.claim(redis, sale, [ids[0]!, ids[1]!, ids[0]!, 'nope'])).toEqual(['processing', 'processing', 'processing', 'missing']);
      const applied = await scripts.finalize(redis, sale, [
        { purchaseId: ids[0]!, status: 'confirmed' },
        { purchaseId: ids[1]!, status: 'rejected', reason: 'SOLD_OUT' },
        { purchaseId: ids[0]!, status: 'confirmed' },
        { purchaseId: ids[2]!, status: 'confirmed' },
      ]);
      expect(applied).toEqual([1, 1, 0, 1]);
      expect(await redis.get(sale.remaining)).toBe('8');
      expect(await redis.hgetall(sale.stats)).toMatchObject({ admitted: '3', admittedUnits: '3', decidedUnits: '3', confirmed: '2', 'rejected:SOLD_OUT': '1' });
      expect(await gatePending(redis, keys, saleId)).toEqual({ remaining: 8, pendingUnits: 0 });
      expect(await redis.hget(sale.users, 'b')).toBe('0');
      // Every marker is gone, and the hash (its keeper field) still expires with the sale.
      expect(await unqueuedPurchaseIds(redis, keys, saleId)).toEqual([]);
      expect(await redis.pttl(sale.unqueued)).toBeGreaterThan(0);
      // Delivered again: nothing moves.
      expect(await scripts.finalize(redis, sale, [{ purchaseId: ids[1]!, status: 'rejected', reason: 'SOLD_OUT' }])).toEqual([0]);
      expect(await redis.get(sale.remaining)).toBe('8');
    });

    it("When a shopper attempts faster than the rate, then the gate refuses (-8, ms to the window's end) without a write; refusals count; others and the next window are open", async () => {
      const rate = { attempts: 3, windowMs: 60_000 };
      const t0 = Date.now();
      expect((await admit('fast', t0, rate))[0]).toBe(1);
      expect((await admit('fast', t0 + 1, rate))[0]).toBe(1);
      await redis.hset(sale.meta, 'perUserLimit', 2);
      // Over the per-shopper limit: refused (409) and still counted as an attempt.
      expect((await admit('fast', t0 + 2, rate))[0]).toBe(-6);
      const refused = await admit('fast', t0 + 10_000, rate);
      expect(refused).toEqual([-8, 50_000]);
      expect(await redis.hget(sale.users, 'r:fast')).toBe(`3|${t0}`);
      expect(await redis.hget(sale.users, 'fast')).toBe('2');
      expect(await redis.get(sale.remaining)).toBe('8');
      expect((await admit('calm', t0 + 10_000, rate))[0]).toBe(1);
      await redis.hset(sale.meta, 'perUserLimit', 5);
      expect((await admit('fast', t0 + 60_000, rate))[0]).toBe(1);
      expect(await redis.hget(sale.users, 'r:fast')).toBe(`1|${t0 + 60_000}`);
    });

    it(`When a shopper buys again and again, then their latest ${RECENT_PURCHASES_KEPT} purchase ids are kept in admission order (how their list finds queued ones)`, async () => {
      await redis.hset(sale.meta, 'perUserLimit', 100);
      await redis.set(sale.remaining, 100);
      const ids: string[] = [];
      for (let i = 0; i < RECENT_PURCHASES_KEPT + 5; i++) ids.push((await admit('loyal'))[1]!);
      expect((await redis.hget(sale.users, 'p:loyal'))!.split(',')).toEqual(ids.slice(5));
    });
  });
});
