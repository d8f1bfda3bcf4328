/** (b) engine, sold out: the attempt endpoint on a sale of 1 unit bought out before; each answer 409 SOLD_OUT. */
import { expectStatus } from '../../tools/client';
import { createSale } from '../stack';
import type { PurchaseQueue } from '../../src/modules/purchases/queue';
import { Bench } from '../harness/context';
import type { Server } from '../harness/processes';
import { waitForQueueIdle } from '../harness/storage';
import { attemptOnce, attemptTarget } from './attempt';
import type { HttpScenario } from './http';

/** A sale of one unit, bought out before the sold-out runs (and confirmed by the worker). */
export async function soldOutSale(b: Pick<Bench, 'secret' | 'admin'>, engine: Server, queue: PurchaseQueue): Promise<string> {
  const saleId = await createSale(engine.url, b.admin, { name: 'bench sold out', stock: 1, perUserLimit: 1 });
  expectStatus(await attemptOnce(b as Bench, engine, saleId, 'bench-first-buyer'), 202, 'buy out');
  await waitForQueueIdle(queue);
  return saleId;
}

export const soldOut: HttpScenario = {
  id: 'soldout',
  label: '(b) engine attempt, sold out',
  expectedStatus: 409,
  serverName: 'engine',
  target: async (b) => attemptTarget(b, b.engine, b.soldOutSaleId),
  smoke: async (b) => void expectStatus(await attemptOnce(b, b.engine, b.soldOutSaleId, 'bench-smoke-soldout'), 409, 'engine attempt, sold out'),
};
