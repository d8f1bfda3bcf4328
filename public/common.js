// Shared by the shopper page and the admin page: DOM helper, token handling, the API
// client, formatting, live countdowns and the Socket.io connection. Plain ES module.

/** Builds an element. Props: class, text, on<Event> (listeners, never inline handlers), attributes. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' || typeof child === 'number' ? String(child) : child);
  }
  return el;
}

/* ---------------- tokens ---------------- */

const memoryStore = new Map();

function storage() {
  try {
    const probe = '__fs_probe__';
    sessionStorage.setItem(probe, '1');
    sessionStorage.removeItem(probe);
    return sessionStorage;
  } catch {
    // Storage disabled (privacy mode): keep the token for this page's life only.
    return {
      getItem: (k) => (memoryStore.has(k) ? memoryStore.get(k) : null),
      setItem: (k, v) => memoryStore.set(k, String(v)),
      removeItem: (k) => memoryStore.delete(k),
    };
  }
}

export const tokenStore = (key) => ({
  get: () => storage().getItem(key),
  set: (token) => storage().setItem(key, token),
  clear: () => storage().removeItem(key),
});

/**
 * Takes `token=` out of the URL fragment into sessionStorage and strips it from the address
 * bar (and from history), keeping the rest of the fragment (e.g. `sale=<id>`).
 */
export function takeTokenFromFragment(store) {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has('token')) return;
  const token = (params.get('token') ?? '').trim();
  params.delete('token');
  if (token) store.set(token);
  const rest = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
}

/** The JWT's claims, unverified (the server verifies): for display and early, friendly checks. */
export function decodeToken(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** A human reason why this token cannot work, or null when it looks usable. */
export function tokenProblem(token, { admin = false } = {}) {
  const t = String(token ?? '').trim();
  if (!t) return 'Paste a token first.';
  const claims = decodeToken(t);
  if (!claims) return 'That does not look like a token: expected three dot-separated parts (a JWT).';
  if (typeof claims.sub !== 'string' || !claims.sub) return 'This token has no user ("sub" claim).';
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now() - 30_000) {
    return `This token expired ${formatDateTime(new Date(claims.exp * 1000).toISOString())}. Mint a fresh one.`;
  }
  if (admin && claims.role !== 'admin') {
    return 'This is a shopper token; the admin page needs one with role "admin" (npm run token -- --sub you --role admin).';
  }
  return null;
}

/* ---------------- API client ---------------- */

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
export async function api(path, { token, method = 'GET', body, headers = {} } = {}) {
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
    res = await fetch(path, { method, headers: h2, body: payload, cache: 'no-store', credentials: 'omit' });
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

/* ---------------- formatting ---------------- */

// Sales carry no currency in the API; the engine's products default to USD.
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const count = new Intl.NumberFormat('en-US');

export const formatMoney = (cents) => money.format(Number(cents) / 100);
export const formatCount = (n) => (n === null || n === undefined || Number.isNaN(Number(n)) ? '–' : count.format(Number(n)));
export const formatDateTime = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const formatTime = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const shortId = (id) => String(id ?? '').slice(0, 8);

/** 1:02:03 / 02:03 / 2d 01:02:03, rounded up so the display reads 00:00 exactly at the target. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const hh = Math.floor((total % 86400) / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const p = (n) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${p(hh)}:${p(mm)}:${p(ss)}`;
  if (hh > 0) return `${hh}:${p(mm)}:${p(ss)}`;
  return `${p(mm)}:${p(ss)}`;
}

export const STATUS_LABEL = {
  upcoming: 'Upcoming',
  active: 'Live',
  sold_out: 'Sold out',
  ended: 'Ended',
  cancelled: 'Cancelled',
  queued: 'Queued',
  confirmed: 'Confirmed',
  rejected: 'Rejected',
  paid: 'Paid',
  expired: 'Expired',
};

export function badge(status, extra = {}) {
  return h('span', { class: `badge badge-${status}`, ...extra }, STATUS_LABEL[status] ?? status);
}

/* ---------------- live countdowns ---------------- */

/**
 * A <time> that counts down to `targetMs` (one shared ticker updates them all). When it
 * reaches zero it dispatches a bubbling `countdown-done` event.
 */
export function countdown(targetMs) {
  const el = h('time', { class: 'countdown', 'data-countdown': targetMs, datetime: new Date(targetMs).toISOString() });
  el.textContent = formatDuration(targetMs - Date.now());
  return el;
}

function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-countdown]')) {
    const left = Number(el.dataset.countdown) - now;
    const text = formatDuration(left);
    if (el.textContent !== text) el.textContent = text;
    if (left <= 0 && el.dataset.done !== '1') {
      el.dataset.done = '1';
      el.dispatchEvent(new CustomEvent('countdown-done', { bubbles: true }));
    }
  }
}

let ticker;
export function startCountdowns() {
  if (!ticker) ticker = setInterval(tickCountdowns, 250);
}

/* ---------------- Socket.io ---------------- */

/**
 * Opens the engine's Socket.io connection (global `io` from /socket.io/socket.io.js).
 * `onConnect({ reconnect })` runs on every connect: sockets lose their rooms and any event
 * sent while away, so callers re-watch and re-fetch there. Returns null when the client
 * script is unavailable (the pages then rely on polling).
 */
export function openSocket(token, { onState, onConnect, onAuthError }) {
  if (typeof io !== 'function') {
    onState('offline');
    return null;
  }
  const socket = io({ auth: { token }, reconnectionDelay: 1000, reconnectionDelayMax: 5000 });
  let connectedBefore = false;
  onState('connecting');
  socket.on('connect', () => {
    onState('live');
    onConnect({ reconnect: connectedBefore });
    connectedBefore = true;
  });
  socket.on('disconnect', (reason) => {
    onState('reconnecting');
    // The server closed it: Socket.io does not retry on its own in that case.
    if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 1000);
  });
  socket.on('connect_error', (err) => {
    if (!socket.active && err?.message === 'UNAUTHENTICATED') {
      onState('offline');
      onAuthError();
    } else {
      onState('reconnecting');
    }
  });
  return socket;
}

const CONN_TEXT = {
  live: 'Live',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function showConnState(el, state) {
  el.dataset.state = state;
  el.textContent = CONN_TEXT[state] ?? state;
  el.title =
    state === 'live' ? 'Live updates are on' : state === 'offline' ? 'Live updates are off; statuses are polled' : 'Trying to restore live updates';
}
