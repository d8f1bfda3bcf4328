/**
 * (c) naive: what many peers ship (bench/servers/naive.ts), one PostgreSQL transaction per
 * attempt; a fresh sale of 5,000,000 units per round (created through the engine's admin API,
 * same database), each answer 201.
 */
import { expectStatus } from '../../tools/client';
import { createSale } from '../stack';
import { BIG_STOCK } from '../harness/context';
import { attemptOnce, attemptTarget } from './attempt';
import type { HttpScenario } from './http';

export const naive: HttpScenario = {
  id: 'naive',
  label: '(c) naive sync PostgreSQL',
  expectedStatus: 201,
  serverName: 'naive',
  target: async (b, round) => {
    const saleId = await createSale(b.engine.url, b.admin, { name: `bench naive r${round}`, stock: BIG_STOCK, perUserLimit: 1 });
    return attemptTarget(b, b.naive, saleId);
  },
  smoke: async (b) => {
    const saleId = await createSale(b.engine.url, b.admin, { name: 'bench smoke naive', stock: 10, perUserLimit: 1 });
    expectStatus(await attemptOnce(b, b.naive, saleId, 'bench-smoke-naive'), 201, 'naive attempt');
    expectStatus(await attemptOnce(b, b.naive, saleId, 'bench-smoke-naive'), 409, 'naive attempt, same shopper');
  },
};
