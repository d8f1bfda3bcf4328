// The engine's HTTP API: one fetch wrapper that turns every answer into { ok, status, data, error }.

/** fetch() could not reach the server, or the connection dropped before the answer arrived. */
export class NetworkError extends Error {
  constructor(cause) {
    super('network error');
    this.name = 'NetworkError';
    this.cause = cause;
  }
}

function parseRetryAfter(value) {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * Calls the engine. Resolves with `{ ok, status, data, error, retryAfter }` for any HTTP
 * answer (`error` is the `{code, message, details?}` envelope); throws NetworkError when there
 * is no answer.
 */
export async function api(path, { token, method = 'GET', body, headers = {}, credentials = 'omit' } = {}) {
  const h2 = { Accept: 'application/json', ...headers };
  if (token) h2.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    h2['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res;
  let text;
  try {
    // 'omit' unless asked: only the queue dashboard's session call wants a cookie set.
    res = await fetch(path, { method, headers: h2, body: payload, cache: 'no-store', credentials });
    text = await res.text();
  } catch (err) {
    throw new NetworkError(err);
  }
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  const error = res.ok
    ? null
    : {
        code: data?.error?.code ?? `HTTP_${res.status}`,
        message: data?.error?.message ?? (res.statusText || 'Request failed'),
        details: data?.error?.details,
      };
  return { ok: res.ok, status: res.status, data, error, retryAfter: parseRetryAfter(res.headers.get('Retry-After')) };
}

/** A fresh Idempotency-Key; crypto.randomUUID needs a secure context, getRandomValues does not. */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === 'function') return `web-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
