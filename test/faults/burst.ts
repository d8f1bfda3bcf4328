import { randomUUID } from 'node:crypto';
import { shopperToken } from '../helpers';

/** One answer (or the lack of one) to one request of the burst. */
export type Answer = {
  kind: 'attempt' | 'retry' | 'readSale' | 'readPurchase';
  /** Which API process was asked (its label). */
  target: string;
  user: string;
  idemKey?: string;
  /** Epoch ms when the request was sent / its answer was read. */
  t0: number;
  t1: number;
  ms: number;
  /** HTTP status; 0 when no HTTP answer came (connection reset, refused, timeout). */
  status: number;
  /** `error.code` of an error answer, or the network error's code when status is 0. */
  code?: string;
  retryAfter: string | null;
  /** For status >= 400: the body is `{"error":{"code":string,"message":string}}`. */
  envelope: boolean;
  /** From a purchase-bearing answer (200/202 to an attempt, 200 to a purchase read). */
  purchaseId?: string;
  purchaseStatus?: string;
  /** The start of an unexpected body (not JSON, or not the envelope), for evidence. */
  sample?: string;
};

export type Target = { url: string; label: string };

export type BurstOptions = {
  saleId: string;
  /** Shopper ids are `<tag>-<n>`: one fresh shopper per attempt, so PostgreSQL rows map back to answers. */
  tag: string;
  /** Chooses the API for each request (e.g. switch to a surviving node). */
  target: () => Target;
  /** Requests in flight at most. */
  concurrency: number;
  /** Requests started per second at most (attempts and reads together). */
  ratePerSec: number;
  /** Every n-th request is a read (alternately the sale, and one of our admitted purchases as its owner); 0: none. */
  readEvery: number;
  /** The burst stops by itself after this long. */
  maxMs: number;
  /** Send an Idempotency-Key with every attempt (kept in the answer, for keyed retries). */
  idempotency?: boolean;
  /** A request without an answer after this long is aborted (recorded as status 0, TIMEOUT). */
  requestTimeoutMs?: number;
};

export type Burst = {
  startedAt: number;
  answers: Answer[];
  /** Resolves when the burst has stopped and every request in flight has its answer. */
  done: Promise<void>;
  stop: () => Promise<void>;
  stopped: () => boolean;
  /** Requests sent to `label` and not answered yet. */
  inFlight: (label: string) => number;
  /** How long (ms) each request in flight to `label` has been waiting. */
  inFlightAges: (label: string) => number[];
  /** Polls (no fixed sleep) until `pred` holds over the answers so far; fails after `timeoutMs`. */
  until: (pred: (answers: Answer[]) => boolean, what: string, timeoutMs?: number) => Promise<void>;
};

/** Runs N shoppers with bounded concurrency, for a bounded time, recording every answer. */
export function startBurst(opts: BurstOptions): Burst {
  const answers: Answer[] = [];
  const admitted: Answer[] = [];
  const startedAt = Date.now();
  const gapMs = 1000 / opts.ratePerSec;
  let next = 0;
  let stop = false;
  const deadline = startedAt + opts.maxMs;

  const pending = new Set<{ label: string; t0: number }>();
  const one = async (i: number) => {
    const target = opts.target();
    const entry = { label: target.label, t0: Date.now() };
    pending.add(entry);
    try {
      await send(i, target);
    } finally {
      pending.delete(entry);
    }
  };
  const send = async (i: number, target: Target) => {
    const isRead = opts.readEvery > 0 && i % opts.readEvery === opts.readEvery - 1;
    if (isRead) {
      const owned = admitted.length > 0 && i % (2 * opts.readEvery) === opts.readEvery - 1 ? admitted[i % admitted.length] : undefined;
      if (owned) {
        answers.push(await request(target, 'readPurchase', owned.user, 'GET', `/api/purchases/${owned.purchaseId}`, { token: shopperToken(owned.user) }, opts.requestTimeoutMs));
      } else {
        answers.push(await request(target, 'readSale', '', 'GET', `/api/sales/${opts.saleId}`, {}, opts.requestTimeoutMs));
      }
      return;
    }
    const user = `${opts.tag}-${i}`;
    const idemKey = opts.idempotency ? randomUUID() : undefined;
    const a = await attempt(target, opts.saleId, user, idemKey, 'attempt', opts.requestTimeoutMs);
    answers.push(a);
    if (a.purchaseId) admitted.push(a);
  };

  const lane = async () => {
    for (;;) {
      const i = next++;
      const due = startedAt + i * gapMs;
      const now = Date.now();
      if (stop || due >= deadline) return;
      if (due > now) await new Promise((r) => setTimeout(r, due - now)); // pacing, not waiting on state
      if (stop) return;
      await one(i);
    }
  };
  const done = Promise.all(Array.from({ length: opts.concurrency }, lane)).then(() => {
    stop = true;
  });

  return {
    startedAt,
    answers,
    done,
    stop: async () => {
      stop = true;
      await done;
    },
    stopped: () => stop,
    inFlight: (label) => [...pending].filter((p) => p.label === label).length,
    inFlightAges: (label) => {
      const now = Date.now();
      return [...pending].filter((p) => p.label === label).map((p) => now - p.t0);
    },
    until: async (pred, what, timeoutMs = 15_000) => {
      const until = Date.now() + timeoutMs;
      while (!pred(answers)) {
        if (stop) throw new Error(`the burst stopped before ${what}`);
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20)); // poll period
      }
    },
  };
}

/** One purchase attempt of one unit as `user`. */
export function attempt(target: Target, saleId: string, user: string, idemKey: string | undefined, kind: 'attempt' | 'retry' = 'attempt', timeoutMs?: number) {
  return request(target, kind, user, 'POST', `/api/sales/${saleId}/purchases`, {
    token: shopperToken(user),
    body: { quantity: 1 },
    ...(idemKey ? { headers: { 'idempotency-key': idemKey } } : {}),
  }, timeoutMs).then((a) => (idemKey ? { ...a, idemKey } : a));
}

async function request(
  target: Target,
  kind: Answer['kind'],
  user: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; headers?: Record<string, string> },
  timeoutMs = 10_000,
): Promise<Answer> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const t0 = Date.now();
  const base = { kind, target: target.label, user, t0 };
  try {
    const res = await fetch(target.url + path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const t1 = Date.now();
    let body: any;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const envelope =
      typeof body?.error?.code === 'string' && typeof body?.error?.message === 'string' && Object.keys(body).length === 1;
    const answer: Answer = {
      ...base,
      t1,
      ms: t1 - t0,
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      envelope,
    };
    if (envelope) answer.code = body.error.code;
    if (res.status < 300 && typeof body?.purchaseId === 'string') {
      answer.purchaseId = body.purchaseId;
      answer.purchaseStatus = body.status;
    }
    if (res.status >= 400 && !envelope) answer.sample = text.slice(0, 200);
    return answer;
  } catch (err) {
    const t1 = Date.now();
    const e = err as Error & { cause?: { code?: string; name?: string } };
    const code = e.name === 'TimeoutError' ? 'TIMEOUT' : (e.cause?.code ?? e.cause?.name ?? e.name);
    return { ...base, t1, ms: t1 - t0, status: 0, code, retryAfter: null, envelope: false };
  }
}

/** Liveness and readiness of each API, sampled every `everyMs` until stopped. */
export type HealthSample = { target: string; t: number; live: number; ready: number; readyMs: number };

export function startHealthPoller(targets: () => Target[], everyMs = 100): { samples: HealthSample[]; stop: () => Promise<void> } {
  const samples: HealthSample[] = [];
  let stop = false;
  const status = async (url: string) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  };
  const loop = (async () => {
    while (!stop) {
      const round = Date.now();
      await Promise.all(
        targets().map(async (t) => {
          const t0 = Date.now();
          const [live, ready] = await Promise.all([status(`${t.url}/api/health/live`), status(`${t.url}/api/health/ready`)]);
          samples.push({ target: t.label, t: t0, live, ready, readyMs: Date.now() - t0 });
        }),
      );
      const wait = round + everyMs - Date.now();
      if (wait > 0 && !stop) await new Promise((r) => setTimeout(r, wait)); // sampling period
    }
  })();
  return {
    samples,
    stop: async () => {
      stop = true;
      await loop;
    },
  };
}
