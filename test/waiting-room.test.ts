import { randomUUID } from 'node:crypto';
import { io as connect, Socket } from 'socket.io-client';
import { solveChallenge } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { mintPass } from '../src/modules/waiting-room/passes';
import { placeIdOf } from '../src/modules/waiting-room/fairness';
import { adminToken, call, createSale, pool, shopperToken, Stack, startStack, testConfig, waitFor } from './helpers';

/** Waiting room (README "Waiting room"): settings, joining and reading, passes, stock, pushes, restarts. Real Redis and PostgreSQL. */
describe('Waiting room', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(testConfig());
  });
  afterAll(async () => stack?.stop());

  const admin = adminToken();
  const url = () => stack.api.url;
  const setRoom = (saleId: string, body: unknown, method = 'PUT') => call(url(), method, `/api/admin/sales/${saleId}/waiting-room`, { token: admin, body });
  const join = (saleId: string, token: string) => call(url(), 'POST', `/api/sales/${saleId}/line`, { token });
  const read = (saleId: string, token: string) => call(url(), 'GET', `/api/sales/${saleId}/line`, { token });
  const buy = (saleId: string, token: string, pass?: string) =>
    call(url(), 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 }, headers: pass ? { 'sale-pass': pass } : {} });
  /** An open sale with its room on; the line moves only when a test says so (advance) unless `ticking`. */
  const openRoom = async (sale: Parameters<typeof createSale>[1], room: Record<string, unknown>) => {
    const { saleId } = await createSale(url(), sale);
    const r = await setRoom(saleId, { enabled: true, opensAt: new Date(Date.now() - 60_000).toISOString(), ...room });
    expect(r.status).toBe(200);
    return saleId;
  };

  it('When an admin sets up a room, then it is off by default, validated, and changeable live (pause, rate)', async () => {
    const { saleId } = await createSale(url(), { stock: 10, startsAt: new Date(Date.now() + 3600_000).toISOString() });
    expect((await call(url(), 'GET', `/api/admin/sales/${saleId}/waiting-room`, { token: admin })).body.error.code).toBe('LINE_NOT_ENABLED');
    expect((await join(saleId, shopperToken('early'))).body.error.code).toBe('LINE_NOT_ENABLED');
    expect((await setRoom(saleId, { enabled: true, admitPerSecond: -1 })).status).toBe(400);
    expect((await setRoom(saleId, { enabled: true, surprise: 1 })).status).toBe(400);
    expect((await call(url(), 'PUT', `/api/admin/sales/${saleId}/waiting-room`, { token: shopperToken('x'), body: { enabled: true } })).status).toBe(403);

    const set = await setRoom(saleId, { enabled: true, admitPerSecond: 5 });
    expect(set.status).toBe(200);
    expect(set.body.settings).toMatchObject({ enabled: true, admitPerSecond: 5, passSeconds: 120, margin: 0, paused: false, proofOfWork: false });
    // Opens 10 minutes before the start by default.
    const sale = (await call(url(), 'GET', `/api/sales/${saleId}`)).body;
    expect(Date.parse(set.body.settings.opensAt)).toBe(Date.parse(sale.startsAt) - 600_000);
    expect(set.body.seedHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await join(saleId, shopperToken('early'))).body.error.code).toBe('LINE_NOT_OPEN');

    const paused = await setRoom(saleId, { paused: true, admitPerSecond: 12.5 }, 'PATCH');
    expect(paused.body.settings).toMatchObject({ paused: true, admitPerSecond: 12.5, enabled: true });
    expect(paused.body.seedHash).toBe(set.body.seedHash); // the commitment never changes
    expect(await stack.api.deps.redis.hmget(stack.api.deps.keys.line(saleId).room, 'paused', 'admitPerSecond')).toEqual(['1', '12.5']);
    expect((await setRoom(saleId, {}, 'PATCH')).status).toBe(400);
  });

  it('When the room asks a proof of work, then joining needs a solved challenge issued to that shopper for that sale', async () => {
    const saleId = await openRoom({ stock: 10 }, { proofOfWork: 2000 });
    const [alice, bob] = [`pow-a-${randomUUID()}`, `pow-b-${randomUUID()}`].map(shopperToken) as [string, string];
    expect((await join(saleId, alice)).body.error.code).toBe('PROOF_REQUIRED');
    const issued = await call(url(), 'GET', `/api/sales/${saleId}/line/challenge`, { token: alice });
    expect(issued.body.required).toBe(true);
    const solution = await solveChallenge({ challenge: issued.body.challenge, deriveKey });
    const proof = Buffer.from(JSON.stringify({ challenge: issued.body.challenge, solution })).toString('base64url');
    const joinWith = (token: string, header: string) => call(url(), 'POST', `/api/sales/${saleId}/line`, { token, headers: { 'line-proof': header } });
    expect((await joinWith(bob, proof)).body.error.code).toBe('PROOF_INVALID'); // alice's, not bob's
    const wrong = Buffer.from(JSON.stringify({ challenge: issued.body.challenge, solution: { ...solution, derivedKey: 'ab'.repeat(32) } })).toString('base64url');
    expect((await joinWith(alice, wrong)).body.error.code).toBe('PROOF_INVALID');
    expect((await joinWith(alice, 'not-base64-json')).body.error.code).toBe('PROOF_INVALID');
    expect((await joinWith(alice, proof)).status).toBe(201);
    // Off: no challenge needed.
    const open = await openRoom({ stock: 10 }, {});
    expect((await call(url(), 'GET', `/api/sales/${open}/line/challenge`, { token: alice })).body).toEqual({ required: false, challenge: null });
  });

  it('When a shopper polls their place, then it is answered before Express with the headers Express sends; errors still come from Express', async () => {
    const saleId = await openRoom({ stock: 10 }, { paused: true });
    const t = shopperToken(`lane-${randomUUID()}`);
    await join(saleId, t);
    const lane = await call(url(), 'GET', `/api/sales/${saleId}/line`, { token: t, headers: { 'x-request-id': 'lane-req-1' } });
    expect(lane.status).toBe(200);
    expect(lane.body).toMatchObject({ saleId, state: 'waiting', position: 1 });
    expect(lane.headers.get('x-request-id')).toBe('lane-req-1');
    const viaExpress = await read(saleId, shopperToken(`lane-none-${randomUUID()}`));
    expect(viaExpress.body.error.code).toBe('LINE_PLACE_NOT_FOUND');
    const names = (h: Headers) => [...h.keys()].filter((k) => !['content-length', 'date', 'connection', 'keep-alive'].includes(k)).sort();
    expect(names(lane.headers)).toEqual(names(viaExpress.headers));
    expect((await call(url(), 'GET', `/api/sales/${saleId}/line`, { token: 'forged.token.here' })).status).toBe(401);
  });

  it('When a shopper joins twice, then they keep one place, and polls before pollAfterMs are answered from memory', async () => {
    const saleId = await openRoom({ stock: 100 }, { admitPerSecond: 0.1, paused: true });
    const tokens = Array.from({ length: 5 }, (_, i) => shopperToken(`j${i}-${randomUUID()}`));
    expect((await read(saleId, tokens[0]!)).body.error.code).toBe('LINE_PLACE_NOT_FOUND');
    for (const t of tokens) expect((await join(saleId, t)).status).toBe(201);
    const again = await join(saleId, tokens[2]!);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ state: 'waiting', position: 3, aheadOfYou: 2, remaining: 100, likelyToGetOne: true });
    expect(again.body.pollAfterMs).toBeGreaterThanOrEqual(1000);

    const first = await read(saleId, tokens[4]!);
    expect(first.body).toMatchObject({ state: 'waiting', position: 5 });
    const room = stack.api.deps.keys.line(saleId).room;
    await stack.api.deps.redis.hset(room, 'cursor', 2); // the line moved, but this poll is early
    const early = await read(saleId, tokens[4]!);
    expect(early.body.position).toBe(5);
    expect(early.body.pollAfterMs).toBeLessThanOrEqual(first.body.pollAfterMs);
  });

  it('When a turn comes, then only that shopper\'s unexpired pass buys, once; forged, foreign and replayed passes are refused', async () => {
    const saleId = await openRoom({ stock: 10, perUserLimit: 2 }, { admitPerSecond: 1000, margin: 0 });
    const alice = `alice-${randomUUID()}`;
    const bob = `bob-${randomUUID()}`;
    const [ta, tb] = [shopperToken(alice), shopperToken(bob)];
    await join(saleId, ta);
    await join(saleId, tb);
    const turn = await waitFor(async () => {
      const r = await call(url(), 'GET', `/api/sales/${saleId}/line`, { token: ta });
      return r.body.state === 'your_turn' ? r.body : undefined;
    }, 'alice\'s turn', 5000, 100);
    expect(turn.pass).toMatch(/^p1\./);
    expect(Date.parse(turn.passExpiresAt)).toBeGreaterThan(Date.now() + 100_000);

    expect((await buy(saleId, ta)).body.error.code).toBe('PASS_REQUIRED');
    const [head, body] = turn.pass.split('.');
    expect((await buy(saleId, ta, `${head}.${body}.AAAA`)).body.error.code).toBe('PASS_INVALID');
    expect((await buy(saleId, tb, turn.pass)).body.error.code).toBe('PASS_NOT_YOURS');
    const secret = stack.config.line.passSecret;
    const stale = mintPass(secret, { saleId, userId: alice, placeId: placeIdOf(saleId, alice), expiresAtMs: Date.now() - 1 });
    expect((await buy(saleId, ta, stale)).body.error.code).toBe('PASS_EXPIRED');
    const otherSale = mintPass(secret, { saleId: randomUUID(), userId: alice, placeId: 'x', expiresAtMs: Date.now() + 60_000 });
    expect((await buy(saleId, ta, otherSale)).body.error.code).toBe('PASS_INVALID');
    // Signed by us and not expired, but never issued for this place: the gate has no such live pass.
    const neverIssued = mintPass(secret, { saleId, userId: alice, placeId: 'not-a-place', expiresAtMs: Date.now() + 60_000 });
    expect((await buy(saleId, ta, neverIssued)).body.error.code).toBe('PASS_USED');

    const replies = await Promise.all(Array.from({ length: 5 }, () => buy(saleId, ta, turn.pass)));
    expect(replies.filter((r) => r.status === 202)).toHaveLength(1);
    expect(replies.filter((r) => r.status === 409).map((r) => r.body.error.code)).toEqual(Array(4).fill('PASS_USED'));
    expect((await read(saleId, ta)).body.state).toBe('passed');
    expect(Number(await stack.api.deps.redis.get(stack.api.deps.keys.sale(saleId).remaining))).toBe(9);
  });

  it('When a pass runs out unused, then its capacity goes to the next shopper (stock 1, margin 0)', async () => {
    const saleId = await openRoom({ stock: 1 }, { admitPerSecond: 1000, margin: 0, passSeconds: 10, paused: true });
    const line = stack.api.deps.line;
    const tokens = [`a-${randomUUID()}`, `b-${randomUUID()}`].map(shopperToken);
    for (const t of tokens) await join(saleId, t);
    await line.stop(); // this test moves the clock itself
    try {
    await setRoom(saleId, { paused: false }, 'PATCH');
    const now = Date.now();
    const first = await line.advance(saleId, now);
    expect(first.turns).toHaveLength(1); // one unit left: one pass out
    expect((await line.advance(saleId, now + 5000)).turns).toHaveLength(0);
    const later = await line.advance(saleId, now + 10_001); // the first pass expired unused
    expect(later.tick.expiredNow).toBe(1);
    expect(later.turns).toHaveLength(1);
    expect(later.turns[0]!.placeId).not.toBe(first.turns[0]!.placeId);
    } finally {
      line.start();
    }
  });

  it('When the sale sells out, then every watcher in line hears sold_out within a second, and polls say it too', async () => {
    const saleId = await openRoom({ stock: 3 }, { admitPerSecond: 1000, margin: 0 });
    const users = Array.from({ length: 30 }, (_, i) => `so${i}-${randomUUID()}`);
    await pool(users.map((u) => () => join(saleId, shopperToken(u))), 10);
    const sockets: Socket[] = [];
    const soldOutAt = new Map<string, number>();
    try {
      for (const u of users) {
        const s = connect(url(), { auth: { token: shopperToken(u) }, transports: ['websocket'], reconnection: false });
        sockets.push(s);
        s.on('line:update', (state: any) => {
          if (state.state === 'sold_out' && !soldOutAt.has(u)) soldOutAt.set(u, Date.now());
        });
        const ack = await new Promise<any>((resolve) => s.emit('line:watch', { saleId }, resolve));
        expect(ack).toEqual({ ok: true });
      }
      // The first three have passes (stock 3, margin 0); they buy it all.
      const turns = await waitFor(async () => {
        const states = await Promise.all(users.map((u) => call(url(), 'GET', `/api/sales/${saleId}/line`, { token: shopperToken(u) })));
        const mine = states.map((r, i) => [users[i]!, r.body] as const).filter(([, b]) => b.state === 'your_turn');
        return mine.length === 3 ? mine : undefined;
      }, 'three turns', 5000, 100);
      const bought = await Promise.all(turns.map(([u, b]) => buy(saleId, shopperToken(u), b.pass)));
      expect(bought.map((r) => r.status)).toEqual([202, 202, 202]);
      const soldAt = Date.now();
      const waiting = users.filter((u) => !turns.some(([t]) => t === u));
      await waitFor(async () => (waiting.every((u) => soldOutAt.has(u)) ? true : undefined), 'sold_out pushed to every watcher', 3000, 20);
      const slowest = Math.max(...waiting.map((u) => soldOutAt.get(u)! - soldAt));
      expect(slowest).toBeLessThanOrEqual(1000);
      for (const u of waiting.slice(0, 5)) expect((await read(saleId, shopperToken(u))).body.state).toBe('sold_out');
    } finally {
      for (const s of sockets) s.disconnect();
    }
  });

  it('When stock is short, then passes out never exceed units left + margin, and units coming back move the line again', async () => {
    const saleId = await openRoom({ stock: 2, perUserLimit: 1 }, { admitPerSecond: 1000, margin: 1, paused: true });
    const line = stack.api.deps.line;
    const users = Array.from({ length: 10 }, (_, i) => `st${i}-${randomUUID()}`);
    for (const u of users) await join(saleId, shopperToken(u));
    await line.stop(); // this test moves the line itself
    try {
      await setRoom(saleId, { paused: false }, 'PATCH');
      const t0 = Date.now();
      const first = await line.advance(saleId, t0);
      expect(first.turns.map((t) => t.userId)).toEqual(users.slice(0, 3)); // 2 units + margin 1
      expect((await line.advance(saleId, t0 + 1000)).turns).toHaveLength(0);
      for (const t of first.turns.slice(0, 2)) expect((await buy(saleId, shopperToken(t.userId), t.pass)).status).toBe(202);
      const out = await line.advance(saleId, t0 + 2000);
      expect(out.tick).toMatchObject({ soldOut: true, running: false });
      expect(out.turns).toHaveLength(0);
      expect((await read(saleId, shopperToken(users[5]!))).body).toMatchObject({ state: 'sold_out', likelyToGetOne: false });

      // Three units come back (an admin adds stock): 3 + margin 1 − the one pass still out = 3 more turns.
      expect((await call(url(), 'PATCH', `/api/admin/sales/${saleId}`, { token: admin, body: { stock: 5 } })).status).toBe(200);
      const again = await line.advance(saleId, t0 + 3000);
      expect(again.turns.map((t) => t.userId)).toEqual(users.slice(3, 6));
      expect((await read(saleId, shopperToken(users[3]!))).body.state).toBe('your_turn');
    } finally {
      line.start();
    }
  });

  it('When the room is off, then purchases need no pass and the gate never reads the room', async () => {
    const { saleId } = await createSale(url(), { stock: 5 });
    expect((await buy(saleId, shopperToken(`free-${randomUUID()}`))).status).toBe(202);
    await setRoom(saleId, { enabled: false });
    expect((await buy(saleId, shopperToken(`free-${randomUUID()}`))).status).toBe(202);
    expect(await stack.api.deps.redis.hget(stack.api.deps.keys.sale(saleId).meta, 'room')).toBe('0');
  });

  it('When a line moves at a steady rate, then the ETA of a shopper mid-line is within 20% of their actual wait', async () => {
    const saleId = await openRoom({ stock: 1000 }, { admitPerSecond: 10, margin: 1000, paused: true });
    const users = Array.from({ length: 80 }, (_, i) => `eta${i}-${randomUUID()}`);
    await pool(users.map((u) => () => join(saleId, shopperToken(u))), 1);
    const mid = shopperToken(users[60]!);
    await setRoom(saleId, { paused: false }, 'PATCH');
    const predicted = (await call(url(), 'GET', `/api/sales/${saleId}/line`, { token: mid })).body;
    const start = Date.now(); // the ETA counts from the answer
    expect(predicted.state).toBe('waiting');
    // The turn's moment is when its pass was issued (polls as told may see it up to pollAfterMs later).
    const turnAt = await waitFor(async () => {
      const r = await call(url(), 'GET', `/api/sales/${saleId}/line`, { token: mid });
      return r.body.state === 'your_turn' ? Date.parse(r.body.passExpiresAt) - 120_000 : undefined;
    }, 'the mid-line turn', 15_000, 100);
    const actual = (turnAt - start) / 1000;
    expect(Math.abs(predicted.etaSeconds - actual)).toBeLessThanOrEqual(0.2 * actual);
    expect(predicted.etaRange.p25).toBeLessThanOrEqual(actual);
    expect(predicted.etaRange.p75).toBeGreaterThanOrEqual(actual - 0.5);
  });

  it('When the API restarts mid-line, then nobody loses their place', async () => {
    const saleId = await openRoom({ stock: 100 }, { admitPerSecond: 1, paused: true });
    const users = Array.from({ length: 20 }, (_, i) => `rs${i}-${randomUUID()}`);
    for (const u of users) await join(saleId, shopperToken(u));
    const before = await Promise.all(users.map((u) => read(saleId, shopperToken(u))));
    await stack.stop();
    stack = await startStack(stack.config);
    const after = await Promise.all(users.map((u) => read(saleId, shopperToken(u))));
    expect(after.map((r) => r.body.position)).toEqual(before.map((r) => r.body.position));
    expect(after.map((r) => r.body.position)).toEqual(users.map((_, i) => i + 1));
  });

  it('When Redis loses a sale\'s keys, then the rebuilt gate still asks for passes and the room comes back with the same commitment', async () => {
    const saleId = await openRoom({ stock: 5 }, { paused: true });
    const hash = (await call(url(), 'GET', `/api/sales/${saleId}/line/fairness`)).body.seedHash;
    const { redis, keys } = stack.api.deps;
    await redis.del(...Object.values(keys.sale(saleId)), ...Object.values(keys.line(saleId)));
    expect((await call(url(), 'POST', `/api/admin/sales/${saleId}/reconcile`, { token: admin })).status).toBe(200);
    expect((await buy(saleId, shopperToken(`lost-${randomUUID()}`))).body.error.code).toBe('PASS_REQUIRED');
    expect((await join(saleId, shopperToken(`lost-${randomUUID()}`))).status).toBe(201);
    expect((await call(url(), 'GET', `/api/admin/sales/${saleId}/waiting-room`, { token: admin })).body.seedHash).toBe(hash);
  });

  it('When a sale\'s line keys are built, then they all share the sale\'s hash slot', () => {
    const saleId = randomUUID();
    const { keys } = stack.api.deps;
    const all = [...Object.values(keys.sale(saleId)), ...Object.values(keys.line(saleId))];
    for (const key of all) expect(/\{([^}]*)\}/.exec(key)?.[1]).toBe(saleId);
  });
});
