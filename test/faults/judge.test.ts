import { Answer, HealthSample } from './burst';
import { Expect, judge } from './judge';
import { Settled, Snapshot } from './quiescence';

/**
 * The fault tests pass when `judge` finds nothing; these show that each of its checks
 * does fire on the failure it names (a clean run, then one thing broken at a time).
 */

const fault = { label: 'test fault', startedAt: 1000, endedAt: 2000 };
const ans = (o: Partial<Answer>): Answer => ({ kind: 'attempt', target: 'api', user: 'u', t0: 0, t1: 10, ms: 10, status: 202, retryAfter: null, envelope: false, ...o });
const unavailable = { status: 503, code: 'REDIS_UNAVAILABLE', retryAfter: '1', envelope: true } as const;

function clean() {
  const answers: Answer[] = [
    ans({ user: 'u0', t0: 500, t1: 510, purchaseId: 'p0', purchaseStatus: 'queued' }),
    ans({ user: 'u1', t0: 1500, t1: 1510, ...unavailable }),
    ans({ user: 'u2', t0: 2100, t1: 2110, purchaseId: 'p2', purchaseStatus: 'queued' }),
    ans({ kind: 'readSale', user: '', t0: 2200, t1: 2210, status: 200 }),
  ];
  const health: HealthSample[] = [
    { target: 'api', t: 500, live: 200, ready: 200, readyMs: 5 },
    { target: 'api', t: 1500, live: 200, ready: 503, readyMs: 5 },
    { target: 'api', t: 2100, live: 200, ready: 200, readyMs: 5 },
    { target: 'api', t: 6000, live: 200, ready: 200, readyMs: 5 },
  ];
  const settled: Settled = { reached: true, ms: 500, undecided: [], gateOpen: 0, liveJobs: 0 };
  const snap: Snapshot = {
    stock: 10,
    pgRemaining: 8,
    redisRemaining: 8,
    sold: 2,
    orders: 2,
    duplicateOrderPurchases: 0,
    confirmed: 2,
    rejectedByReason: {},
    gateOpenIds: [],
    queue: {},
    purchases: [
      { id: 'p0', user_id: 'u0', status: 'confirmed', reason: null },
      { id: 'p2', user_id: 'u2', status: 'confirmed', reason: null },
    ],
  };
  const expect: Expect = { readyDownDuringFault: true, latencyBoundMs: 2500, recoveryBoundMs: 3000, minFaultAnswers: 1 };
  return { fault, burstStartedAt: 0, answers, health, settled, snap, expect };
}

type Input = ReturnType<typeof clean>;

describe('The fault judge', () => {
  it('When a run keeps the contract, then it finds no violation and reports the figures', () => {
    const verdict = judge(clean());
    expect(verdict.violations).toEqual([]);
    expect(verdict.figures).toMatchObject({ recoveryMs: 110, attempts: { '202': 2, '503 REDIS_UNAVAILABLE': 1 }, quiescence: { unitsLost: 0 } });
  });

  const cases: [string, (i: Input) => void, RegExp][] = [
    ['an attempt answers 500', (i) => i.answers.push(ans({ user: 'u9', status: 500, code: 'INTERNAL', envelope: true })), /attempts answered outside 202\/409\/503.*500 INTERNAL/],
    ['a 500 anywhere', (i) => i.answers.push(ans({ kind: 'readSale', status: 500, code: 'INTERNAL', envelope: true })), /5xx other than 503/],
    ['a read answers 404', (i) => i.answers.push(ans({ kind: 'readPurchase', status: 404, code: 'PURCHASE_NOT_FOUND', envelope: true })), /reads answered outside 200\/503/],
    ['a keyed retry answers 500', (i) => i.answers.push(ans({ kind: 'retry', status: 500, envelope: true, code: 'INTERNAL' })), /keyed retries answered outside/],
    ['a surviving API gives no HTTP answer', (i) => i.answers.push(ans({ status: 0, code: 'ECONNRESET' })), /attempts answered outside.*0 ECONNRESET/],
    ['an error is not in the envelope', (i) => i.answers.push(ans({ ...unavailable, envelope: false, sample: 'oops' })), /not \{"error"/],
    ['a 503 has no Retry-After', (i) => i.answers.push(ans({ ...unavailable, retryAfter: null })), /no Retry-After/],
    ['a request is slow', (i) => i.answers.push(ans({ ...unavailable, ms: 3000 })), /took over 2500 ms \(max 3000 ms/],
    ['the fault is not felt', (i) => (i.answers[1] = ans({ user: 'u1', t0: 1500, t1: 1510, purchaseId: 'p1' })), /attempts sent during the fault got something other than 202/],
    ['liveness fails', (i) => (i.health[1]!.live = 0), /health\/live answered other than 200/],
    ['readiness stays up during the fault', (i) => (i.health[1]!.ready = 200), /never answered 503 during the fault/],
    ['readiness does not come back', (i) => i.health.splice(2), /was not 200 again within 3000 ms/],
    ['readiness drops after recovery', (i) => (i.health[3]!.ready = 503), /answered other than 200 1 times more than 3000 ms after/],
    ['no 202 after the fault', (i) => i.answers.splice(2, 1), /no attempt got 202 within 3000 ms/],
    ['a 202 stays undecided', (i) => (i.settled = { reached: false, ms: 9000, undecided: ['p2'], gateOpen: 1, liveJobs: 0 }), /1 purchases answered 200\/202 were still undecided/],
    ['the queue is not drained', (i) => (i.settled = { reached: false, ms: 9000, undecided: [], gateOpen: 0, liveJobs: 3 }), /still held 3 live jobs/],
    ['a purchase answered 503 is confirmed', (i) => i.snap.purchases.push({ id: 'p1', user_id: 'u1', status: 'confirmed', reason: null }), /confirmed although their shopper's attempt was answered \{"503 REDIS_UNAVAILABLE":1\}/],
    ['an orphan ends with another reason', (i) => i.snap.purchases.push({ id: 'p1', user_id: 'u1', status: 'rejected', reason: 'SOLD_OUT' }), /ended other than rejected ENQUEUE_FAILED: \{"rejected SOLD_OUT":1\}/],
    ['a shopper gets a second purchase', (i) => i.snap.purchases.push({ id: 'p9', user_id: 'u0', status: 'rejected', reason: 'ENQUEUE_FAILED' }), /purchase row other than the one/],
    ['the gate still holds a purchase', (i) => (i.snap.gateOpenIds = ['px']), /1 purchases still held units in the gate/],
    ['Redis lost a unit', (i) => (i.snap.redisRemaining = 7), /Redis remaining 7 != PostgreSQL remaining 8 \(units lost: 1\)/],
    ['sold + remaining != stock', (i) => (i.snap.pgRemaining = 7), /sold 2 \+ PostgreSQL remaining 7 != stock 10/],
    ['oversold', (i) => Object.assign(i.snap, { sold: 11, pgRemaining: -1, redisRemaining: -1 }), /oversold: 11 units sold of 10/],
    ['more confirmed than stock', (i) => Object.assign(i.snap, { confirmed: 11, orders: 11 }), /11 purchases confirmed for a stock of 10/],
    ['a duplicate order', (i) => (i.snap.duplicateOrderPurchases = 1), /1 duplicate orders.purchase_id/],
    ['orders != confirmed', (i) => (i.snap.orders = 3), /3 orders for 2 confirmed purchases/],
  ];

  it.each(cases)('When %s, then it says so', (_name, breakIt, message) => {
    const input = clean();
    breakIt(input);
    const { violations } = judge(input);
    expect(violations.some((v) => message.test(v))).toBe(true);
  });

  it('When a killed API leaves requests without an answer, then those are not held against it', () => {
    const input = clean();
    input.answers.push(ans({ target: 'victim', status: 0, code: 'ECONNRESET' }));
    input.health.push({ target: 'victim', t: 1500, live: 0, ready: 0, readyMs: 1 });
    expect(judge({ ...input, expect: { ...input.expect, victims: ['victim'] } }).violations).toEqual([]);
  });
});
