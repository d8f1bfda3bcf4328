import { Db } from '../../lib/db';
import { AppError, Errors } from '../../lib/errors';
import { Logger } from '../../lib/logger';
import { Periodic, runEvery } from '../../lib/periodic';
import { RedisClient } from '../../lib/redis';
import { Keys, SALE_KEY_RETENTION_MS } from '../../gate/keys';
import { scripts } from '../../gate/scripts';
import { findSale } from '../sales/repository';
import { WAITING_ROOM_DEFAULTS, WaitingRoomInput, WaitingRoomPatch, WaitingRoomSettings } from '../sales/validators';
import { drawOf, newSeed, placeIdOf, seedHash } from './fairness';
import { mintPass, verifyPass } from './passes';
import { checkJoinProof, JoinChallenge, newJoinChallenge } from './proof';
import { findRoom, saveRoom } from './repository';
import { LineState, lineStateOf, parseRoomRead } from './state';

export type WaitingRoomDeps = { db: Db; redis: RedisClient; keys: Keys; logger: Logger; config: { line: { passSecret: string; tickMs: number } } };

/** A line's summary after a tick: what every node's sockets hear when it changes. */
export type RoomTick = { saleId: string; running: boolean; remaining: number; soldOut: boolean; cursor: number; total: number; outstanding: number; expiredNow: number };
/** A shopper whose turn came in a tick (the node that moved the line tells them). */
export type Turn = { saleId: string; userId: string; placeId: string; pass: string; passExpiresAt: string };

/** The admin's view: settings, the published commitment, and the line's live counters. */
export type RoomAdminView = {
  saleId: string;
  settings: Omit<WaitingRoomSettings, 'opensAt'> & { opensAt: string };
  seedHash: string;
  live: { joined: number; served: number; waiting: number; passesOut: number; expired: number };
};

const TEN_MINUTES = 10 * 60_000;
/** Early polls answered from memory: at most this many remembered per process (then forgotten all at once). */
const POLL_CACHE_MAX = 200_000;
/** A line is moved by this node while someone polled, joined or watched it in the last... */
const ACTIVE_FOR_MS = 5 * 60_000;

/**
 * Waiting rooms (README "Waiting room"): settings on the sale, the line in the sale's Redis
 * slot (line-join-4, line-read-6, line-advance-6), passes signed here and used up by admit-8.
 * One per API process; every process moves the lines its shoppers use (the script makes
 * that safe), every `tickMs`.
 */
export class WaitingRooms {
  private readonly seeds = new Map<string, string>();
  private readonly polls = new Map<string, { state: LineState; nextAtMs: number }>();
  private readonly active = new Map<string, number>();
  private readonly soldOut = new Set<string>();
  private readonly lastTick = new Map<string, RoomTick>();
  private readonly tickListeners: ((tick: RoomTick, changed: boolean) => void)[] = [];
  private readonly turnListeners: ((turn: Turn) => void)[] = [];
  private ticker: Periodic | undefined;

  constructor(private readonly deps: WaitingRoomDeps) {}

  /* ---------------- admin ---------------- */

  /** Sets (PUT) or changes (PATCH) a sale's room, live: PostgreSQL first, then the gate. */
  async configure(saleId: string, input: WaitingRoomInput | WaitingRoomPatch, mode: 'replace' | 'change'): Promise<RoomAdminView> {
    const found = await findRoom(this.deps.db, saleId);
    if (!found) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
    const base: WaitingRoomSettings = mode === 'change' && found.settings ? found.settings : { ...WAITING_ROOM_DEFAULTS };
    if (mode === 'change' && !found.settings) throw Errors.conflict('LINE_NOT_ENABLED', 'This sale has no waiting room yet: PUT its settings first');
    const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<WaitingRoomSettings>;
    const settings: WaitingRoomSettings = { ...base, ...defined };
    const seed = await saveRoom(this.deps.db, saleId, settings, found.seed ?? newSeed());
    await this.syncRoom(saleId, settings, seed);
    this.polls.clear();
    return this.adminView(saleId);
  }

  async adminView(saleId: string): Promise<RoomAdminView> {
    const [found, sale] = await Promise.all([findRoom(this.deps.db, saleId), findSale(this.deps.db, saleId)]);
    if (!found || !sale) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
    if (!found.settings || !found.seed) throw Errors.notFound('LINE_NOT_ENABLED', 'This sale has no waiting room');
    const l = this.deps.keys.line(saleId);
    const [room, passesOut] = await Promise.all([this.deps.redis.hmget(l.room, 'joined', 'cursor', 'expired'), this.deps.redis.zcard(l.passes)]);
    const [joined, served, expired] = room.map((v) => Number(v ?? 0)) as [number, number, number];
    const opensAt = found.settings.opensAt ?? new Date(sale.startsAt.getTime() - TEN_MINUTES);
    return {
      saleId,
      settings: { ...found.settings, opensAt: opensAt.toISOString() },
      seedHash: seedHash(found.seed),
      live: { joined, served, waiting: Math.max(0, joined - served), passesOut, expired },
    };
  }

  /** Writes the settings into the room hash and the room flag admit-8 reads into the sale's meta (one MULTI, one slot). */
  private async syncRoom(saleId: string, settings: WaitingRoomSettings, seed: string): Promise<void> {
    const sale = await findSale(this.deps.db, saleId);
    if (!sale) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
    const l = this.deps.keys.line(saleId);
    const k = this.deps.keys.sale(saleId);
    const opensAt = settings.opensAt ?? new Date(sale.startsAt.getTime() - TEN_MINUTES);
    const replies = await this.deps.redis
      .multi()
      .hset(l.room, {
        enabled: settings.enabled ? 1 : 0,
        paused: settings.paused ? 1 : 0,
        admitPerSecond: settings.admitPerSecond,
        passSeconds: settings.passSeconds,
        margin: settings.margin,
        opensAt: opensAt.getTime(),
        seed,
        pow: settings.proofOfWork === false ? 0 : settings.proofOfWork,
      })
      .hset(k.meta, 'room', settings.enabled ? 1 : 0)
      .pexpireat(l.room, sale.endsAt.getTime() + SALE_KEY_RETENTION_MS)
      .exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('room sync discarded');
    this.seeds.set(saleId, seed);
  }

  /** The room as PostgreSQL has it, back into Redis (a Redis that lost it, a first use on this node). */
  private async reload(saleId: string): Promise<void> {
    const found = await findRoom(this.deps.db, saleId);
    if (!found) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
    if (!found.settings || !found.seed) throw Errors.conflict('LINE_NOT_ENABLED', 'This sale has no waiting room');
    await this.syncRoom(saleId, found.settings, found.seed);
  }

  /* ---------------- shoppers ---------------- */

  /** Joins the line (once per shopper per sale: again, the same place) and answers the place's state. */
  async join(saleId: string, userId: string, proof?: string): Promise<{ created: boolean; state: LineState }> {
    const placeId = placeIdOf(saleId, userId);
    // Checked here, needed or not; whether the room asks one is the script's (room `pow`).
    if (proof) await checkJoinProof(this.deps.config.line.passSecret, proof, { saleId, userId });
    const run = async () => {
      const seed = await this.seedOf(saleId);
      return scripts.lineJoin(this.deps.redis, this.deps.keys.sale(saleId), this.deps.keys.line(saleId), {
        placeId,
        record: `${userId}|${Date.now()}`,
        draw: drawOf(seed, placeId),
        proved: proof !== undefined,
      });
    };
    let [code, detail] = await run();
    if (code === -1) {
      await this.reload(saleId);
      [code, detail] = await run();
    }
    // The room is back but the sale's gate is not (Redis lost it): the first purchase attempt or a worker's start rebuilds it.
    if (code === -1) throw Errors.unavailable('SALE_UNAVAILABLE', 'This sale is being restored; try again shortly', 1);
    if (code === -2) throw Errors.conflict('LINE_NOT_ENABLED', 'This sale has no waiting room: buy directly');
    if (code === -3) throw new AppError('conflict', 'LINE_NOT_OPEN', `The line opens at ${new Date(Number(detail)).toISOString()}`);
    if (code === -4) throw Errors.conflict('LINE_CLOSED', 'This sale has ended or was cancelled');
    if (code === -5) throw new AppError('forbidden', 'PROOF_REQUIRED', 'This line asks a proof of work: GET .../line/challenge, solve it, join with header Line-Proof');
    this.polls.delete(`${saleId}|${userId}`);
    return { created: code === 1, state: await this.read(saleId, userId) };
  }

  /** A shopper's place. Earlier than the last answer's pollAfterMs: that answer again, from memory (sold out overrides it). */
  async read(saleId: string, userId: string, opts: { fresh?: boolean } = {}): Promise<LineState> {
    const cacheKey = `${saleId}|${userId}`;
    const nowMs = Date.now();
    this.active.set(saleId, nowMs);
    const cached = opts.fresh ? undefined : this.polls.get(cacheKey);
    if (cached && nowMs < cached.nextAtMs && !(this.soldOut.has(saleId) && (cached.state.state === 'waiting' || cached.state.state === 'your_turn'))) {
      return { ...cached.state, pollAfterMs: cached.nextAtMs - nowMs };
    }
    const placeId = placeIdOf(saleId, userId);
    const readOnce = async () => parseRoomRead(await scripts.lineRead(this.deps.redis, this.deps.keys.sale(saleId), this.deps.keys.line(saleId), placeId));
    let r = await readOnce();
    if (!r) {
      await this.reload(saleId);
      r = await readOnce();
    }
    if (!r || r.rank < 0) throw Errors.notFound('LINE_PLACE_NOT_FOUND', 'You are not in this line: join it first (POST)');
    const base = lineStateOf(r, { saleId, placeId }, nowMs);
    const state: LineState =
      base.state === 'your_turn'
        ? { ...base, pass: mintPass(this.deps.config.line.passSecret, { saleId, userId, placeId, expiresAtMs: r.passExpiresAtMs }), passExpiresAt: new Date(r.passExpiresAtMs).toISOString() }
        : base;
    if (this.polls.size >= POLL_CACHE_MAX) this.polls.clear();
    // A turn is not remembered: the pass may be used any moment, and the next read must say so.
    if (state.state !== 'your_turn') this.polls.set(cacheKey, { state, nextAtMs: nowMs + state.pollAfterMs });
    else this.polls.delete(cacheKey);
    return state;
  }

  /** A proof-of-work challenge for joining, bound to this shopper and sale (null when the room asks none). */
  async challenge(saleId: string, userId: string): Promise<{ required: boolean; challenge: JoinChallenge | null }> {
    const room = this.deps.keys.line(saleId).room;
    let [enabled, pow] = await this.deps.redis.hmget(room, 'enabled', 'pow');
    if (enabled === null) {
      await this.reload(saleId);
      [enabled, pow] = await this.deps.redis.hmget(room, 'enabled', 'pow');
    }
    if (enabled !== '1') throw Errors.conflict('LINE_NOT_ENABLED', 'This sale has no waiting room: buy directly');
    const difficulty = Number(pow ?? 0);
    if (difficulty <= 0) return { required: false, challenge: null };
    return { required: true, challenge: await newJoinChallenge(this.deps.config.line.passSecret, { saleId, userId, difficulty }) };
  }

  /** The `Sale-Pass` header, checked in Node (signature, owner, sale, expiry): its place id for admit-8. */
  checkPass(token: string, who: { saleId: string; userId: string }): string {
    return verifyPass(this.deps.config.line.passSecret, token, { ...who, nowMs: Date.now() });
  }

  private async seedOf(saleId: string): Promise<string> {
    const known = this.seeds.get(saleId);
    if (known) return known;
    const seed = await this.deps.redis.hget(this.deps.keys.line(saleId).room, 'seed');
    if (seed) {
      this.seeds.set(saleId, seed);
      return seed;
    }
    await this.reload(saleId);
    return this.seeds.get(saleId)!;
  }

  /* ---------------- moving the lines ---------------- */

  onTick(listener: (tick: RoomTick, changed: boolean) => void): void {
    this.tickListeners.push(listener);
  }

  onTurn(listener: (turn: Turn) => void): void {
    this.turnListeners.push(listener);
  }

  /** Keeps this node moving a line its shoppers use (joins and polls call it; sockets watching too). */
  touch(saleId: string): void {
    this.active.set(saleId, Date.now());
  }

  start(): void {
    // A slow Redis skips ticks rather than piling them up (runEvery never runs two at once).
    this.ticker = runEvery(this.deps.config.line.tickMs, () => this.tick(), (err) => this.deps.logger.warn('line tick failed', { err: err.message }));
  }

  async stop(): Promise<void> {
    await this.ticker?.stop();
    this.ticker = undefined;
  }

  /** One pass over the lines this node serves. */
  async tick(nowMs = Date.now()): Promise<void> {
    for (const [saleId, seen] of this.active) {
      if (nowMs - seen > ACTIVE_FOR_MS) {
        this.active.delete(saleId);
        continue;
      }
      await this.advance(saleId).catch((err: Error) => this.deps.logger.warn('line advance failed', { saleId, err: err.message }));
    }
  }

  /** Moves one line now, on Redis's clock (the ticker's step), or at a clock of the caller's (tests serve a line at a chosen time). */
  async advance(saleId: string, nowMs?: number, maxBatch = 1000): Promise<{ tick: RoomTick; turns: Turn[] }> {
    const reply = await scripts.lineAdvance(this.deps.redis, this.deps.keys.sale(saleId), this.deps.keys.line(saleId), { nowMs, maxBatch });
    if (Number(reply[0]) !== 1) {
      const tick: RoomTick = { saleId, running: false, remaining: 0, soldOut: false, cursor: 0, total: 0, outstanding: 0, expiredNow: 0 };
      return { tick, turns: [] };
    }
    const n = (i: number) => Number(reply[i]);
    const remaining = Math.max(0, n(3));
    const tick: RoomTick = { saleId, cursor: n(1), total: n(2), remaining, outstanding: n(4), expiredNow: n(5), running: n(6) === 1, soldOut: remaining <= 0 };
    const passExpiresAtMs = n(7);
    const turns: Turn[] = [];
    for (let i = 8; i + 1 < reply.length; i += 2) {
      const placeId = String(reply[i]);
      const userId = String(reply[i + 1]).split('|')[0]!;
      const pass = mintPass(this.deps.config.line.passSecret, { saleId, userId, placeId, expiresAtMs: passExpiresAtMs });
      turns.push({ saleId, userId, placeId, pass, passExpiresAt: new Date(passExpiresAtMs).toISOString() });
    }
    if (tick.soldOut) this.soldOut.add(saleId);
    else this.soldOut.delete(saleId);
    const prev = this.lastTick.get(saleId);
    const changed = !prev || prev.soldOut !== tick.soldOut || prev.running !== tick.running;
    this.lastTick.set(saleId, tick);
    for (const turn of turns) for (const l of this.turnListeners) l(turn);
    for (const l of this.tickListeners) l(tick, changed);
    return { tick, turns };
  }
}
