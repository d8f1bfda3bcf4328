// The watched sale's counters: GET /api/admin/sales/:id/stats every second, the invariant
// checks, the samples the chart draws, and the stock pushed over the socket.
import { api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { formatCount, formatTime } from '../common/format.js';
import { WINDOW_S, drawChart } from './chart.js';
import { authFailed } from './session.js';
import { state, update } from './state.js';

const POLL_MS = 1000;
const liveEl = byId('live');

/** One counter tile: its label, value and the line under it. */
export function stat(key, label, { sub, cls } = {}) {
  const value = h('span', { class: 'stat-value', 'data-testid': `stat-${key}` }, '–');
  const subEl = h('span', { class: 'stat-sub', 'data-testid': `stat-${key}-sub` }, sub ?? '');
  return { el: h('div', { class: `stat ${cls ?? ''}` }, h('span', { class: 'stat-label' }, label), value, subEl), value, sub: subEl };
}

/** A short list of counts under a counter (reasons, codes, outcomes): one row each. */
export function breakdown(testid, label) {
  return h('ul', { class: 'reasons', 'data-testid': testid, 'aria-label': label });
}

const words = (code) => code.replace(/_/g, ' ').toLowerCase();

/** Fills a breakdown with [key, label, n] rows (kept in the order given), or `empty` when there are none. */
function fillBreakdown(ul, rows, empty = 'none') {
  const key = JSON.stringify(rows);
  if (ul.dataset.key === key) return;
  ul.dataset.key = key;
  ul.replaceChildren(
    ...(rows.length
      ? rows.map(([k, label, n]) => h('li', { 'data-key': k, 'data-testid': `${ul.dataset.testid}-${k}` }, h('span', {}, label), h('span', {}, formatCount(n))))
      : [h('li', {}, empty)]),
  );
}

function setStat(key, text) {
  const el = liveEl.querySelector(`[data-testid="stat-${key}"]`);
  if (el && el.textContent !== text) el.textContent = text;
}

/** A `sale:stock` push: shown if it is the watched sale's. */
export function showLiveStock(saleId, remaining) {
  if (state.live?.saleId !== saleId) return;
  setStat('remaining-live', formatCount(remaining));
  state.live.refs.liveAt.textContent = `sale:stock at ${formatTime(new Date().toISOString())}`;
}

/** Re-reads the sale itself; a change answered meanwhile (a newer `saleVersion`) wins. */
export async function refreshSale(live) {
  const version = live.saleVersion;
  try {
    const r = await api(`/api/admin/sales/${live.saleId}`, { token: state.token });
    if (state.live !== live || live.saleVersion !== version) return;
    if (r.status === 401 || r.status === 403) return authFailed(r);
    if (r.ok) update({ sale: r.data });
  } catch {
    /* the stats poll reports a lost engine */
  }
}

/** Polls now rather than at the next tick (after a change), never running two polls at once. */
export function pollSoon(live) {
  if (state.live !== live) return;
  if (live.polling) {
    live.pollAgain = true;
    return;
  }
  clearTimeout(live.timer);
  void pollStats(live.seq);
}

export async function pollStats(seq) {
  const live = state.live;
  if (!live || live.seq !== seq) return;
  live.polling = true;
  const started = performance.now();
  // The sale itself (status, stock, end) every 5 s: it changes on its own (starts, ends, sells out).
  if (live.polls++ % 5 === 0) void refreshSale(live);
  try {
    const r = await api(`/api/admin/sales/${live.saleId}/stats`, { token: state.token });
    if (state.live !== live) return;
    if (r.status === 401 || r.status === 403) return authFailed(r);
    if (r.ok) {
      live.refs.error.replaceChildren();
      applyStats(live, r.data);
    } else {
      live.refs.error.replaceChildren(h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, `Stats unavailable: ${r.error.message} (${r.error.code})`)));
    }
  } catch {
    if (state.live !== live) return;
    live.refs.error.replaceChildren(h('div', { class: 'msg msg-warning' }, h('span', { class: 'msg-text' }, 'Lost contact with the engine; retrying every second…')));
  } finally {
    live.polling = false;
  }
  if (state.live === live) {
    const delay = live.pollAgain ? 0 : Math.max(0, POLL_MS - (performance.now() - started));
    live.pollAgain = false;
    live.timer = setTimeout(() => void pollStats(seq), delay);
  }
}

const sum = (counts) => Object.values(counts ?? {}).reduce((a, b) => a + Number(b), 0);
const byCount = (counts) => Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]).map(([code, n]) => [code, words(code), n]);

/**
 * Shows one stats read (GET /api/admin/sales/:id/stats): the gate's counters (admitted, the
 * 409 refusals) from Redis, what the worker decided and what became of it from PostgreSQL
 * (decided, holds, units, orders), the queue, and the checks they must pass.
 */
function applyStats(live, s) {
  const { refs } = live;
  const { decided, holds, units } = s;
  setStat('admitted', formatCount(s.admitted));
  setStat('refused', formatCount(sum(s.refused)));
  fillBreakdown(refs.refusedCodes, byCount(s.refused));
  setStat('confirmed', formatCount(decided.confirmed));
  fillBreakdown(refs.holds, [
    ['paid', 'paid', holds.paid],
    ['held', 'held, unpaid', holds.held],
    ['expired', 'expired', holds.expired],
    ['cancelled', 'given up', holds.cancelled],
  ]);
  setStat('rejected', formatCount(decided.rejected));
  fillBreakdown(refs.reasons, byCount(decided.byReason));
  setStat('orders', formatCount(s.orders.count));
  refs.stats.orders.sub.textContent = `standing, ${formatCount(s.orders.units)} unit${s.orders.units === 1 ? '' : 's'}; an ended hold voids its order`;
  setStat('sold', formatCount(units.sold));
  refs.stats.sold.sub.textContent = `of ${formatCount(s.stock)} in stock`;
  setStat('held', formatCount(units.held));
  setStat('remaining-redis', formatCount(s.remaining.redis));
  setStat('remaining-postgres', formatCount(s.remaining.postgres));
  refs.stats.postgres.sub.textContent = units.returned
    ? `authoritative; ${formatCount(units.returned)} back from ended holds`
    : 'authoritative';
  const depth = s.queue.waiting + s.queue.active + s.queue.delayed;
  setStat('queue', formatCount(depth));
  refs.stats.queue.sub.textContent = `waiting ${s.queue.waiting} · active ${s.queue.active} · delayed ${s.queue.delayed} · failed ${s.queue.failed}`;
  setStat('drift', s.drift === null ? '–' : `${s.drift > 0 ? '+' : ''}${formatCount(s.drift)}`);
  refs.stats.drift.el.dataset.warn = String(s.drift !== 0);
  refs.stats.drift.sub.textContent =
    s.drift === null ? 'Redis has no record of the sale' : s.drift === 0 ? 'Redis + pending = PostgreSQL' : 'Redis + pending ≠ PostgreSQL: reconcile';

  const inFlight = depth > 0 || s.admitted > decided.confirmed + decided.rejected;
  const synced = s.remaining.redis === s.remaining.postgres;
  const n = formatCount;
  const check = (ok, text) => h('span', { class: 'check', 'data-ok': ok === null ? false : String(ok) }, `${ok ? '✓' : ok === null ? '…' : '✗'} ${text}`);
  refs.checks.replaceChildren(
    check(units.sold <= s.stock, `sold ${n(units.sold)} ≤ stock ${n(s.stock)}`),
    check(
      units.sold + units.held + s.remaining.postgres === s.stock,
      `sold ${n(units.sold)} + held ${n(units.held)} + left ${n(s.remaining.postgres)} = stock ${n(s.stock)}`,
    ),
    check(holds.paid + holds.held + holds.expired + holds.cancelled === decided.confirmed, 'paid + held + expired + given up = confirmed'),
    check(synced ? true : inFlight ? null : false, synced ? 'Redis = PostgreSQL' : inFlight ? 'Redis ahead of PostgreSQL (settling)' : 'Redis ≠ PostgreSQL'),
  );

  // Rates are the deltas between two polls, per second of the time between them.
  const now = performance.now();
  const prev = live.samples.at(-1);
  const sample = { t: now, admitted: s.admitted, confirmed: decided.confirmed, aRate: 0, cRate: 0 };
  if (prev) {
    const dt = Math.max(0.001, (now - prev.t) / 1000);
    sample.aRate = Math.max(0, s.admitted - prev.admitted) / dt;
    sample.cRate = Math.max(0, decided.confirmed - prev.confirmed) / dt;
    live.peak.admitted = Math.max(live.peak.admitted, sample.aRate);
    live.peak.confirmed = Math.max(live.peak.confirmed, sample.cRate);
  }
  live.samples.push(sample);
  while (live.samples.length > 2 && live.samples[0].t < now - (WINDOW_S + 2) * 1000) live.samples.shift();
  refs.legendA.textContent = sample.aRate.toFixed(1);
  refs.legendC.textContent = sample.cRate.toFixed(1);
  refs.updated.textContent = `Updated ${formatTime(new Date().toISOString())} · stats polled every second`;
  drawChart(live);
}
