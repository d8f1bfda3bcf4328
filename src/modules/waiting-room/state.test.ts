import { lineStateOf, POLL_MAX_MS, POLL_MIN_MS, RoomRead } from './state';

const NOW = 1_800_000_000_000;
const room = (over: Partial<RoomRead> = {}): RoomRead => ({
  rank: 100, cursor: 0, total: 1000, passExpiresAtMs: -1, remaining: 500, startsAt: NOW - 1000, endsAt: NOW + 3600_000, cancelled: false,
  enabled: true, paused: false, admitPerSecond: 10, outstandingPasses: 0, admitted: 0, admittedUnits: 0, perUserLimit: 1, passSeconds: 60, margin: 0, ...over,
});
const ids = { saleId: 's', placeId: 'p' };

describe('lineStateOf', () => {
  it('When the line moves at 10/s, then place 101 waits ~10 s, polls a quarter of that, and is likely to get one', () => {
    const s = lineStateOf(room(), ids, NOW);
    expect(s).toMatchObject({ state: 'waiting', position: 101, aheadOfYou: 100, etaSeconds: 10, likelyToGetOne: true, pollAfterMs: 2525 });
    expect(s.etaRange!.p25).toBeLessThanOrEqual(10);
    expect(s.etaRange!.p75).toBeGreaterThanOrEqual(10);
  });

  it('When the line is deep or near, then pollAfterMs stays between its bounds', () => {
    expect(lineStateOf(room({ rank: 90_000 }), ids, NOW).pollAfterMs).toBe(POLL_MAX_MS);
    expect(lineStateOf(room({ rank: 0 }), ids, NOW).pollAfterMs).toBe(POLL_MIN_MS);
  });

  it('When the shoppers ahead and the passes out would take what is left, then it is unlikely', () => {
    expect(lineStateOf(room({ remaining: 50, outstandingPasses: 10 }), ids, NOW).likelyToGetOne).toBe(false);
    expect(lineStateOf(room({ remaining: 200, admitted: 10, admittedUnits: 20 }), ids, NOW).likelyToGetOne).toBe(false); // 2 units each
  });

  it('When held back by stock, then the range widens by a pass', () => {
    const held = lineStateOf(room({ remaining: 5, outstandingPasses: 5 }), ids, NOW);
    expect(held.etaRange!.p75).toBeGreaterThanOrEqual(60);
  });

  it('When states compete, then closed > turn given (your_turn / passed; sold out wins over a live pass) > prequeue > sold_out > waiting', () => {
    expect(lineStateOf(room({ cancelled: true, rank: 0, cursor: 1, passExpiresAtMs: NOW + 1 }), ids, NOW).state).toBe('closed');
    expect(lineStateOf(room({ enabled: false }), ids, NOW).state).toBe('closed');
    expect(lineStateOf(room({ rank: 3, cursor: 5, passExpiresAtMs: NOW + 5000 }), ids, NOW)).toMatchObject({ state: 'your_turn', pollAfterMs: 5000 });
    expect(lineStateOf(room({ rank: 3, cursor: 5, passExpiresAtMs: NOW + 5000, remaining: 0 }), ids, NOW).state).toBe('sold_out');
    expect(lineStateOf(room({ rank: 3, cursor: 5 }), ids, NOW).state).toBe('passed');
    expect(lineStateOf(room({ startsAt: NOW + 60_000 }), ids, NOW)).toMatchObject({ state: 'prequeue', position: null, etaSeconds: null });
    expect(lineStateOf(room({ remaining: 0 }), ids, NOW).state).toBe('sold_out');
    expect(lineStateOf(room({ paused: true }), ids, NOW)).toMatchObject({ state: 'waiting', etaSeconds: null, pollAfterMs: POLL_MAX_MS });
  });
});
