import { attempt } from './faults/burst';
import { FaultWindow } from './faults/judge';
import { exited, stopAll } from './faults/processes';
import { FaultRig } from './faults/rig';

/**
 * Issue 10, item 5: an API process is SIGKILLed mid-burst, while purchases it admitted at
 * the gate wait for their queue add (FAULT_ENQUEUE_DELAY_MS widens that window). Two API
 * processes and a worker process share a private redis-server; shoppers move to the
 * survivor and retry what was cut with the same Idempotency-Key. Each purchase the victim
 * admitted but never queued must be settled by the orphan sweep (rejected ENQUEUE_FAILED,
 * its unit back) within the bound; at quiescence Redis == PostgreSQL, no oversell, no
 * duplicate order. Figures: artifacts/faults/api-sigkill.json.
 */

const LOAD = { concurrency: 32, ratePerSec: 300, readEvery: 5, maxMs: 15_000, idempotency: true } as const;
const STOCK = 400;
const ENQUEUE_DELAY_MS = 500;

afterAll(() => stopAll());

describe('When an API process is killed with SIGKILL mid-burst between the gate and the queue add', () => {
  const rig = new FaultRig('api-sigkill', {
    apis: [
      { label: 'api-victim', env: { FAULT_ENQUEUE_DELAY_MS: String(ENQUEUE_DELAY_MS) } },
      { label: 'api-survivor' },
    ],
  });
  beforeAll(() => rig.start(), 60_000);
  afterAll(() => rig.stop(), 30_000);

  it(
    'then the purchases it admitted but never queued are rejected ENQUEUE_FAILED by the sweep, keyed retries get an answer that ends, and no unit is leaked',
    async () => {
      const saleId = await rig.createSale(STOCK);
      const victim = rig.api('api-victim');
      const survivor = rig.api('api-survivor');
      let killed = false;
      const health = rig.watchHealth(() => (killed ? [survivor] : [victim, survivor]));
      const burst = rig.burst({ saleId, tag: `ak-${saleId.slice(0, 8)}`, target: () => (killed ? survivor : victim), ...LOAD });
      // Admissions are flowing through the victim; then wait (bounded) for most of its pipeline to have
      // passed the gate: requests in flight for over 150 ms sit in the enqueue delay. Judged below.
      await burst.until((as) => as.filter((a) => a.status === 202).length >= 30, '30 admissions through the victim');
      const parked = () => burst.inFlightAges(victim.label).filter((ms) => ms >= 150).length;
      await burst.until(() => parked() >= LOAD.concurrency - 4, 'a pipeline parked in the enqueue delay', 2000).catch(() => undefined);

      const child = rig.apis.find((a) => a.label === victim.label)!.child;
      const inFlightAtKill = burst.inFlight(victim.label);
      const parkedAtKill = parked();
      killed = true;
      const startedAt = Date.now();
      child.kill('SIGKILL');
      await exited(child);
      const fault: FaultWindow = { label: `API SIGKILL (enqueue delay ${ENQUEUE_DELAY_MS} ms)`, startedAt, endedAt: Date.now() };

      // Every request the victim had in hand ends without an answer; retry each on the survivor with its key.
      await burst.until(() => burst.inFlight(victim.label) === 0, 'the victim requests to end', 10_000);
      const cut = burst.answers.filter((a) => a.target === victim.label && a.kind === 'attempt' && a.status === 0);
      const retries = await Promise.all(cut.map((a) => attempt(survivor, saleId, a.user, a.idemKey, 'retry')));
      burst.answers.push(...retries);

      await rig.endBurst(burst, fault);
      const verdict = await rig.finish({
        saleId,
        burst,
        health,
        fault,
        expect: { latencyBoundMs: 1500, recoveryBoundMs: 3000, minFaultAnswers: 0, readyDownDuringFault: false, victims: [victim.label] },
        extra: { inFlightAtKill, parkedAtKill, cut: cut.length, retriesFindingAnAdmittedPurchase: retries.filter((r) => r.status === 200).length },
      });

      const violations = [...verdict.violations];
      // What became of the purchases the keyed retries found (the victim's orphans): given back, or (provably safe) confirmed.
      const found = retries.filter((r) => r.status === 200).map((r) => r.purchaseId!);
      const outcomes = await rig.db('purchases').whereIn('id', found).select('id', 'status', 'reason');
      const outcomeTally = outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [`${o.status} ${o.reason ?? ''}`.trim()]: (t[`${o.status} ${o.reason ?? ''}`.trim()] ?? 0) + 1 }), {});
      console.log(`[fault api-sigkill] keyed retries found ${found.length} admitted purchases; outcomes ${JSON.stringify(outcomeTally)}`);
      const otherwise = outcomes.filter((o) => !((o.status === 'rejected' && o.reason === 'ENQUEUE_FAILED') || o.status === 'confirmed'));
      if (otherwise.length) violations.push(`${otherwise.length} orphans found by keyed retries ended neither rejected ENQUEUE_FAILED nor confirmed: ${JSON.stringify(outcomeTally)}`);
      // The kill landed where it should: requests were cut, and some of them had been admitted at the gate.
      if (cut.length === 0) violations.push('the kill cut no request (nothing was in flight on the victim)');
      if (!retries.some((r) => r.status === 200)) {
        violations.push(`no keyed retry found a purchase the victim had admitted (retries: ${JSON.stringify(retries.map((r) => r.status))}): the kill missed the gate-to-queue window`);
      }
      expect(violations).toEqual([]);
    },
    90_000,
  );
});
