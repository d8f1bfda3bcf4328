import { SaleBatcher } from './group-commit';
import { AdmittedPurchase, PurchaseOutcome } from '../job';

const job = (purchaseId: string, saleId = 'sale-a'): AdmittedPurchase => ({
  purchaseId,
  saleId,
  userId: `u-${purchaseId}`,
  quantity: 1,
  admittedAt: 0,
  idempotencyKey: null,
});

describe('SaleBatcher (group commit)', () => {
  it('When jobs of one sale arrive together, then they are written in one batch, capped at maxSize', async () => {
    const batches: string[][] = [];
    const batcher = new SaleBatcher(async (_sale, jobs) => {
      batches.push(jobs.map((j) => j.purchaseId));
      return jobs.map((j): PurchaseOutcome => ({ purchaseId: j.purchaseId, status: 'confirmed', orderId: `o-${j.purchaseId}`, holdExpiresAt: '' }));
    }, 3, 5);
    const outcomes = await Promise.all(['1', '2', '3', '4', '5'].map((id) => batcher.submit(job(id))));
    expect(outcomes.map((o) => o.purchaseId)).toEqual(['1', '2', '3', '4', '5']);
    expect(batches).toEqual([['1', '2', '3'], ['4', '5']]);
  });

  it('When sales differ, then they never share a batch', async () => {
    const batches: string[] = [];
    const batcher = new SaleBatcher(async (sale, jobs) => {
      batches.push(`${sale}:${jobs.length}`);
      return jobs.map((j): PurchaseOutcome => ({ purchaseId: j.purchaseId, status: 'rejected', reason: 'SOLD_OUT' }));
    }, 10, 5);
    await Promise.all([batcher.submit(job('1', 'a')), batcher.submit(job('2', 'b')), batcher.submit(job('3', 'a'))]);
    expect(batches.sort()).toEqual(['a:2', 'b:1']);
  });

  it('When a batch fails part-way, then each job is retried alone: the poison job fails, its neighbours commit', async () => {
    const writes: string[][] = [];
    const batcher = new SaleBatcher(async (_sale, jobs) => {
      writes.push(jobs.map((j) => j.purchaseId));
      if (jobs.some((j) => j.purchaseId === 'poison')) throw new Error('insert failed');
      return jobs.map((j): PurchaseOutcome => ({ purchaseId: j.purchaseId, status: 'confirmed', orderId: 'o', holdExpiresAt: '' }));
    }, 10, 5);
    const results = await Promise.allSettled(['a', 'poison', 'b'].map((id) => batcher.submit(job(id))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([['a', 'poison', 'b'], ['a'], ['poison'], ['b']]);
  });
});
