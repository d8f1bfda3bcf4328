/** What a shopper's poll (and push) of the line says; the contract of README "Waiting room". */
export type LineStateName = 'prequeue' | 'waiting' | 'your_turn' | 'passed' | 'sold_out' | 'closed';

export type LineState = {
  saleId: string;
  placeId: string;
  state: LineStateName;
  /** 1 = next; null before the start (the draw is not final until then) and once the turn came. */
  position: number | null;
  aheadOfYou: number | null;
  /** Poll again no sooner than this: earlier polls get this answer again from memory. */
  pollAfterMs: number;
  etaSeconds: number | null;
  etaRange: { p25: number; p75: number } | null;
  /** Units a new attempt could get now (the gate's view). */
  remaining: number;
  /** Units left against what the shoppers ahead (and those holding passes) could take; null when unknown. */
  likelyToGetOne: boolean | null;
  /** Only in `your_turn`: the pass for `Sale-Pass`, and when it runs out. */
  pass?: string;
  passExpiresAt?: string;
};

/** line-read-6's reply, named. */
export type RoomRead = {
  rank: number;
  cursor: number;
  total: number;
  passExpiresAtMs: number;
  remaining: number;
  startsAt: number;
  endsAt: number;
  cancelled: boolean;
  enabled: boolean;
  paused: boolean;
  admitPerSecond: number;
  outstandingPasses: number;
  admitted: number;
  admittedUnits: number;
  perUserLimit: number;
  passSeconds: number;
  margin: number;
};

export function parseRoomRead(reply: (number | string)[]): RoomRead | null {
  if (Number(reply[0]) !== 1) return null;
  const n = (i: number) => Number(reply[i]);
  return {
    rank: n(1), cursor: n(2), total: n(3), passExpiresAtMs: n(4), remaining: Math.max(0, n(5)), startsAt: n(6), endsAt: n(7),
    cancelled: reply[8] === '1', enabled: reply[9] === '1', paused: reply[10] === '1', admitPerSecond: n(11), outstandingPasses: n(12),
    admitted: n(13), admittedUnits: n(14), perUserLimit: n(15), passSeconds: n(17), margin: n(18),
  };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * Polls never come closer than this, nor further apart than the max. 30 s deep in a line: a
 * 100,000-shopper line then sends ~4,000 polls a second (bench/line.ts), not ~7,000 at 15 s;
 * a turn, a sell-out or a close is pushed anyway, and the turn's pass lasts passSeconds (≥ 10 s),
 * which a poll a quarter of the ETA ahead does not miss.
 */
export const POLL_MIN_MS = 1000;
export const POLL_MAX_MS = 30_000;

/**
 * A place's state from the room read (pure; the unit tests hold it). The ETA counts the
 * turns ahead at the room's rate; its range widens by a pass's length when the line is held
 * back by stock (passes out = units left + margin), since it then moves as passes are used
 * or expire rather than by the clock.
 */
export function lineStateOf(r: RoomRead, ids: { saleId: string; placeId: string }, nowMs: number): Omit<LineState, 'pass' | 'passExpiresAt'> {
  const base = { ...ids, remaining: r.remaining, position: null, aheadOfYou: null, etaSeconds: null, etaRange: null, likelyToGetOne: null };
  if (r.cancelled || nowMs >= r.endsAt || !r.enabled) return { ...base, state: 'closed', pollAfterMs: POLL_MAX_MS, likelyToGetOne: false };
  if (r.rank >= 0 && r.rank < r.cursor) {
    // A live pass on a sold-out sale is no use until units come back: sold out, like the line.
    if (r.passExpiresAtMs > nowMs && r.remaining <= 0) return { ...base, state: 'sold_out', pollAfterMs: 5000, likelyToGetOne: false };
    if (r.passExpiresAtMs > nowMs) return { ...base, state: 'your_turn', pollAfterMs: clamp(r.passExpiresAtMs - nowMs, POLL_MIN_MS, 5000), likelyToGetOne: r.remaining > 0 };
    return { ...base, state: 'passed', pollAfterMs: POLL_MAX_MS };
  }
  if (nowMs < r.startsAt) {
    // Until the start, poll about twice as often as the time left, and right after it (with a
    // spread, so a whole pre-queue does not come back in the same millisecond).
    const untilStart = r.startsAt - nowMs;
    const spread = (r.rank >= 0 ? r.rank % 1000 : 0) * 2;
    return { ...base, state: 'prequeue', pollAfterMs: untilStart > 2 * POLL_MAX_MS ? POLL_MAX_MS : clamp(untilStart + spread, POLL_MIN_MS, POLL_MAX_MS + 2000) };
  }
  if (r.remaining <= 0) return { ...base, state: 'sold_out', pollAfterMs: POLL_MAX_MS, likelyToGetOne: false };
  const ahead = r.rank - r.cursor;
  const rate = r.paused ? 0 : r.admitPerSecond;
  const unitsPerShopper = r.admitted > 0 ? r.admittedUnits / r.admitted : 1;
  const likely = r.remaining - (ahead + r.outstandingPasses) * unitsPerShopper >= Math.min(unitsPerShopper, r.remaining);
  if (rate <= 0) return { ...base, state: 'waiting', position: ahead + 1, aheadOfYou: ahead, pollAfterMs: POLL_MAX_MS, likelyToGetOne: likely };
  const eta = (ahead + 1) / rate;
  const heldByStock = r.outstandingPasses >= r.remaining + r.margin;
  return {
    ...base,
    state: 'waiting',
    position: ahead + 1,
    aheadOfYou: ahead,
    etaSeconds: Math.round(eta),
    etaRange: { p25: Math.floor(eta * 0.9), p75: Math.ceil(eta * 1.15 + (heldByStock ? r.passSeconds : 0)) },
    pollAfterMs: clamp(Math.round((eta * 1000) / 4), POLL_MIN_MS, POLL_MAX_MS),
    likelyToGetOne: likely,
  };
}
