import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import { NextFunction, Request, RequestHandler, Response } from 'express';
import { DASHBOARD_PATH } from './session';

/** A queue as the dashboard lists it. bull-board keys queues by name, so shards get a distinct key. */
export type BoardQueue = { queue: Queue; key: string; label: string };

/** The shards of one queue kind, each under its own key and label. */
export function boardShards(kind: string, shards: readonly Queue[]): BoardQueue[] {
  return shards.map((queue, shard) => ({ queue, key: `${kind}-${shard}`, label: shards.length > 1 ? `${kind} (shard ${shard})` : kind }));
}

/**
 * bull-board at /admin/queues. Read-only unless told otherwise (QUEUE_DASHBOARD_READ_ONLY):
 * retrying or removing a purchase job by hand goes around the engine's exactly-once path.
 * Returned as one handler (not bull-board's router itself): its routes are bull-board's,
 * not the engine's API, and stay out of the OpenAPI route walk.
 */
export function queueBoard(queues: BoardQueue[], opts: { readOnly: boolean }): RequestHandler {
  const server = new ExpressAdapter().setBasePath(DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map(
      ({ queue, key, label }) =>
        new BullMQAdapter(queue, { readOnlyMode: opts.readOnly, allowRetries: !opts.readOnly, prefix: `${key}:`, displayName: label, description: `BullMQ prefix ${queue.opts.prefix}` }),
    ),
    serverAdapter: server,
    options: { uiConfig: { boardTitle: 'Flash sale queues' } },
  });
  const router = server.getRouter() as RequestHandler;
  return (req: Request, res: Response, next: NextFunction) => router(req, res, next);
}
