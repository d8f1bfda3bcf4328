import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { recomputeOrder, verify } from '../tools/verify-line';
import { adminToken, call, createSale, pool, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/**
 * The draw (README "Waiting room: a fair, verifiable order"): 20,000 shoppers join the
 * pre-queue; once the sale starts, their order is a permutation uncorrelated with when they
 * joined, and anyone can recompute it from the revealed seed.
 */
describe('Waiting room fairness', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig(), { worker: false });
  });
  afterAll(async () => stack?.stop());

  it('When 20,000 join before the start, then the served order is the draw from the revealed seed (then arrivals), uncorrelated with join time', async () => {
    const N = 20_000;
    const url = stack.api.url;
    const line = stack.api.deps.line;
    await line.stop(); // this test serves the line at a clock it chooses
    const { saleId } = await createSale(url, { stock: 30_000, perUserLimit: 1, startsAt: new Date(Date.now() + 3600_000).toISOString() });
    const room = await call(url, 'PUT', `/api/admin/sales/${saleId}/waiting-room`, {
      token: adminToken(),
      body: { enabled: true, opensAt: new Date(Date.now() - 1000).toISOString(), admitPerSecond: 100_000, margin: 100_000 },
    });
    expect(room.status).toBe(200);
    const before = (await call(url, 'GET', `/api/sales/${saleId}/line/fairness`)).body;
    expect(before).toMatchObject({ seedHash: room.body.seedHash, seed: null, revealed: false });
    expect((await call(url, 'GET', `/api/sales/${saleId}/line/places`)).body.error.code).toBe('LINE_NOT_STARTED');

    // Joining, in-process (the route is one call to it); each place's join order as it completed.
    const joinOrder = new Map<string, number>();
    const prequeue = await pool(
      Array.from({ length: N }, (_, i) => async () => {
        const { state } = await line.join(saleId, `fair-${i}-${saleId.slice(0, 8)}`);
        expect(state.state).toBe('prequeue');
        joinOrder.set(state.placeId, joinOrder.size);
        return state.placeId;
      }),
      100,
    );
    expect(new Set(prequeue).size).toBe(N);

    // The sale starts; five arrive after it and queue in arrival order behind the draw.
    const startsAt = Date.now() + 1000;
    expect((await call(url, 'PATCH', `/api/admin/sales/${saleId}`, { token: adminToken(), body: { startsAt: new Date(startsAt).toISOString() } })).status).toBe(200);
    await waitFor(async () => (Date.now() > startsAt + 50 ? true : undefined), 'the start', 5000, 20);
    const late: string[] = [];
    for (let i = 0; i < 5; i++) late.push((await call(url, 'POST', `/api/sales/${saleId}/line`, { token: shopperToken(`late-${i}-${randomUUID()}`) })).body.placeId);

    const fairness = (await call(url, 'GET', `/api/sales/${saleId}/line/fairness`)).body;
    expect(fairness.revealed).toBe(true);
    expect(createHash('sha256').update(fairness.seed).digest('hex')).toBe(before.seedHash);

    const places: any[] = [];
    for (let offset = 0; ; offset += 5000) {
      const page = (await call(url, 'GET', `/api/sales/${saleId}/line/places?limit=5000&offset=${offset}`)).body;
      places.push(...page.items);
      if (page.items.length < 5000) break;
    }
    // A permutation: every place once, positions 1..N+5, the drawn first.
    expect(places).toHaveLength(N + 5);
    expect(places.map((p) => p.position)).toEqual(Array.from({ length: N + 5 }, (_, i) => i + 1));
    expect(new Set(places.slice(0, N).map((p) => p.placeId))).toEqual(new Set(prequeue));
    expect(places.slice(N).map((p) => p.placeId)).toEqual(late);

    // Spearman's rank correlation of join order and position over the pre-queue, against its
    // two-sided 0.1% critical value for n = 20,000 (normal approximation: 3.2905 / sqrt(n - 1)).
    let sumD2 = 0;
    for (const p of places.slice(0, N)) sumD2 += (joinOrder.get(p.placeId)! + 1 - p.position) ** 2;
    const rho = 1 - (6 * sumD2) / (N * (N * N - 1));
    expect(Math.abs(rho)).toBeLessThan(3.2905 / Math.sqrt(N - 1));

    // Serve the whole line and compare the order of the turns with the recomputed one.
    const served: string[] = [];
    for (let t = Date.now(); served.length < N + 5; t += 1000) {
      const { turns } = await line.advance(saleId, t, 5000);
      served.push(...turns.map((x) => x.placeId));
      if (t > Date.now() + 60_000) throw new Error(`only ${served.length} served`);
    }
    expect(served).toEqual(recomputeOrder(fairness.seed, places));
    expect(verify(fairness, places)).toEqual([]);
    // A tampered order is caught.
    const swapped = places.map((p, i) => (i === 0 ? { ...p, position: 2 } : i === 1 ? { ...p, position: 1 } : p));
    expect(verify(fairness, swapped)).not.toEqual([]);

    // And the command a shopper runs says so.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'tools', 'verify-line.ts'), '--base', url, '--sale', saleId], { timeout: 30_000 });
    expect(stdout).toMatch(/^OK 20005 places/);
    line.start();
  }, 180_000);
});
