import { Db } from '../../lib/db';
import { Logger } from '../../lib/logger';
import { lockPending, markRelayed, staleRelayed } from './repository';
import { deliveryJobId, WEBHOOK_BACKOFF_TYPE, WEBHOOK_JOB_NAME, WebhookQueue } from './queue';

export type RelayDeps = { db: Db; queue: WebhookQueue; logger: Logger; attempts: number };

const BATCH = 200;
/** A relayed delivery unfinished this long is added again (a no-op unless Redis lost its job). */
const STALE_AFTER_MS = 10 * 60_000;
const STALE_EVERY_MS = 60_000;

/**
 * Moves pending outbox rows to the queue: in one transaction, lock a batch (SKIP LOCKED,
 * so relays in other worker processes take other rows), add one job per row with the
 * delivery's job id, mark them relayed, commit. A crash before the commit leaves them
 * pending and the next relay adds them again under the same job ids: BullMQ ignores an
 * add whose id it has, so nothing is enqueued twice.
 */
export async function relayOnce(deps: RelayDeps, which: 'pending' | 'stale' = 'pending'): Promise<number> {
  return deps.db.transaction(async (trx) => {
    const rows = which === 'pending' ? await lockPending(trx, BATCH) : await staleRelayed(trx, STALE_AFTER_MS, BATCH);
    if (rows.length === 0) return 0;
    await deps.queue.addBulk(
      rows.map((r) => ({
        name: WEBHOOK_JOB_NAME,
        data: { deliveryId: r.id },
        opts: { jobId: deliveryJobId(r.id, r.replays), attempts: deps.attempts, backoff: { type: WEBHOOK_BACKOFF_TYPE } },
      })),
    );
    await markRelayed(
      trx,
      rows.map((r) => r.id),
    );
    return rows.length;
  });
}

/**
 * Runs the relay every `everyMs` (again at once while it finds full batches) until stopped;
 * an error (PostgreSQL or Redis down) is logged and the next tick tries again.
 */
export function startRelay(deps: RelayDeps, everyMs: number): { stop: () => Promise<void> } {
  let stopped = false;
  let lastStaleLook = 0;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    try {
      while (!stopped && (await relayOnce(deps)) === BATCH);
      if (!stopped && Date.now() - lastStaleLook > STALE_EVERY_MS) {
        lastStaleLook = Date.now();
        await relayOnce(deps, 'stale');
      }
    } catch (err) {
      deps.logger.warn('webhook relay failed; retrying', { err: (err as Error).message });
    }
    if (!stopped) timer = setTimeout(() => (running = tick()), everyMs);
  };
  running = tick();
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
