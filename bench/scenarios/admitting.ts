/**
 * (b) engine, admitting: `POST /api/sales/:id/purchases` on a fresh sale of 5,000,000 units,
 * every request a new shopper (each answer 202), the worker draining meanwhile as in production.
 */
import { expectStatus } from '../../tools/client';
import { createSale } from '../stack';
import { BIG_STOCK } from '../harness/context';
import { averageBatch, waitForQueueIdle } from '../harness/storage';
import { attemptOnce, attemptTarget } from './attempt';
import type { HttpScenario } from './http';

export const admitting: HttpScenario = {
  id: 'admit',
  label: '(b) engine attempt, admitting',
  expectedStatus: 202,
  serverName: 'engine',
  target: async (b, round) => {
    const saleId = await createSale(b.engine.url, b.admin, { name: `bench admit r${round}`, stock: BIG_STOCK, perUserLimit: 1 });
    return attemptTarget(b, b.engine, saleId);
  },
  // Redis's cost per purchase: from the first request to the last purchase decided.
  redisPhase: true,
  // The next run starts on a quiet machine: wait for the worker to take every job (a job
  // completes once its purchases are decided, written to the read model and their holds
  // scheduled, so the Redis phase ends here too).
  after: async (b, record) => {
    const idle = await waitForQueueIdle(b.storage.queue);
    record.backlogAfter = idle.backlog;
    record.backlogDrainMs = idle.ms;
    if (record.saleId) record.workerAvgBatch = await averageBatch(b.storage.db, record.saleId);
  },
  smoke: async (b) => {
    const saleId = await createSale(b.engine.url, b.admin, { name: 'bench smoke admit', stock: 10, perUserLimit: 1 });
    expectStatus(await attemptOnce(b, b.engine, saleId, 'bench-smoke-engine'), 202, 'engine attempt');
    await waitForQueueIdle(b.storage.queue);
  },
};
