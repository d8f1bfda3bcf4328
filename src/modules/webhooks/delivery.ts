import { Job, Worker } from 'bullmq';
import { Db } from '../../lib/db';
import { Logger } from '../../lib/logger';
import { RedisClient } from '../../lib/redis';
import { eventBody } from './events';
import { deliveryToSend, recordAttempt } from './repository';
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, sign, SIGNATURE_HEADER } from './signature';
import { WEBHOOK_BACKOFF_TYPE, webhookBackoff, WebhookJobData, WebhookQueue } from './queue';

export type DeliveryResult = 'delivered' | 'retrying' | 'dead';

export type DeliveryDeps = {
  db: Db;
  connection: RedisClient;
  queue: WebhookQueue;
  logger: Logger;
  timeoutMs: number;
  backoffMs: number;
  backoffMaxMs: number;
  concurrency: number;
  /** Told how each attempt ended (metrics hook in here). */
  onResult?: (result: DeliveryResult) => void;
};

/**
 * One attempt: POST the event's JSON, signed, within `timeoutMs`. Any 2xx is delivered;
 * anything else (other status, timeout, refused connection) is an error for BullMQ to retry.
 * Redirects are not followed: a receiver answers where it was registered.
 */
async function attempt(d: { url: string; secret: string; eventId: string; type: string; body: string }, timeoutMs: number): Promise<void> {
  const res = await fetch(d.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'flashsale-webhooks/1',
      [SIGNATURE_HEADER]: sign(d.secret, d.body),
      [EVENT_ID_HEADER]: d.eventId,
      [EVENT_TYPE_HEADER]: d.type,
    },
    body: d.body,
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
  });
  // The receiver's body is not ours to read; free the connection.
  await res.body?.cancel().catch(() => undefined);
  if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status}`);
}

const errorText = (err: unknown) => {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  return e.cause?.code ? `${e.message}: ${e.cause.code}` : e.message;
};

/**
 * The delivery worker: at least once per delivery (a retry, a stalled job or a replay may
 * send an event again; receivers deduplicate on the event id). Each attempt's outcome is
 * written to the delivery row, so the dead letters and the admin page read PostgreSQL.
 */
export function startDeliveryWorker(deps: DeliveryDeps): Worker<WebhookJobData> {
  const worker = new Worker<WebhookJobData>(
    deps.queue.name,
    async (job: Job<WebhookJobData>) => {
      const d = await deliveryToSend(deps.db, job.data.deliveryId);
      const attemptNo = job.attemptsMade + 1;
      if (!d || d.status === 'delivered' || d.status === 'dropped') return 'skipped';
      if (d.endpointDeleted) {
        await recordAttempt(deps.db, d.id, { status: 'dropped' }, attemptNo - 1);
        return 'dropped';
      }
      try {
        await attempt({ ...d, body: eventBody({ id: d.eventId, type: d.type, createdAt: d.createdAt, data: d.data }) }, deps.timeoutMs);
      } catch (err) {
        const error = errorText(err);
        const last = attemptNo >= (job.opts.attempts ?? 1);
        await recordAttempt(deps.db, d.id, { status: last ? 'dead' : 'retrying', error }, attemptNo);
        deps.onResult?.(last ? 'dead' : 'retrying');
        if (last) deps.logger.warn('webhook delivery dead after its last attempt', { deliveryId: d.id, eventId: d.eventId, err: error });
        throw new Error(error);
      }
      await recordAttempt(deps.db, d.id, { status: 'delivered' }, attemptNo);
      deps.onResult?.('delivered');
      return 'delivered';
    },
    {
      connection: deps.connection,
      prefix: deps.queue.opts.prefix,
      concurrency: deps.concurrency,
      settings: {
        backoffStrategy: (attemptsMade, type) => (type === WEBHOOK_BACKOFF_TYPE ? webhookBackoff(attemptsMade, deps.backoffMs, deps.backoffMaxMs) : 0),
      },
    },
  );
  // A job that failed without its processor recording it (e.g. stalled past its limit) is still a dead letter.
  worker.on('failed', (job, err) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    void deps.db('webhook_deliveries')
      .where({ id: job.data.deliveryId })
      .whereIn('status', ['pending', 'relayed'])
      .update({ status: 'dead', last_error: err.message.slice(0, 1000), finished_at: deps.db.fn.now() })
      .catch(() => undefined);
  });
  worker.on('error', (err) => deps.logger.error('webhook worker error', { err: err.message }));
  return worker;
}
