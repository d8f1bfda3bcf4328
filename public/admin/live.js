// The live view of one sale, opened from the URL fragment (#sale=<id>): its header, counters,
// checks, management panel and chart. Polling lives in stats.js, actions in manage.js.
import { api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { formatCount, shortId } from '../common/format.js';
import { drawChart } from './chart.js';
import { lineCard } from './line.js';
import { managePanel, showLiveSale } from './manage.js';
import { authFailed } from './session.js';
import { state, subscribe, update } from './state.js';
import { breakdown, pollStats, stat } from './stats.js';
import { holdText, knownSale } from './table.js';

const liveEl = byId('live');
let liveSeq = 0; // bumped on every open and close: an open that finishes late is dropped

/** Opens or closes the live view to match the URL fragment. */
export function route() {
  if (!state.token) return;
  const id = new URLSearchParams(location.hash.slice(1)).get('sale');
  if (!id) return stopLive(true);
  if (state.live?.saleId === id.toLowerCase()) return;
  void openLive(id.toLowerCase());
}

function stopLive(hide = false) {
  if (state.live) {
    clearTimeout(state.live.timer);
    state.socket?.emit('sale:unwatch', { saleId: state.live.saleId });
  }
  liveSeq++;
  update({ live: null });
  if (hide) {
    liveEl.hidden = true;
    liveEl.replaceChildren();
  }
}

async function openLive(saleId) {
  stopLive();
  const seq = liveSeq;
  let sale = knownSale(saleId);
  if (!sale) {
    try {
      const r = await api(`/api/admin/sales/${encodeURIComponent(saleId)}`, { token: state.token });
      if (seq !== liveSeq) return;
      if (r.status === 401 || r.status === 403) return authFailed(r);
      if (!r.ok) {
        const text = r.status === 404 ? `Sale ${saleId} was not found.` : `Sale ${saleId} could not be loaded: ${r.error.message} (${r.error.code})`;
        liveEl.hidden = false;
        liveEl.removeAttribute('data-sale-id');
        liveEl.replaceChildren(h('div', { class: 'msg msg-error', role: 'alert' }, h('span', { class: 'msg-text' }, text)));
        return;
      }
      sale = r.data;
    } catch {
      if (seq !== liveSeq) return;
      sale = { id: saleId, name: `Sale ${shortId(saleId)}`, status: 'active', stock: 0, startsAt: null, endsAt: null, priceCents: 0, perUserLimit: 0 };
    }
  }

  // Four rows: the gate (admitted, refused, queue), the worker's decisions (confirmed, with
  // what became of them; rejected, by reason; orders), the units (sold + held + left = stock),
  // and the gate against PostgreSQL (Redis, the socket, drift).
  const stats = {
    admitted: stat('admitted', 'Admitted', { sub: 'passed the Redis gate', cls: 'stat-accent' }),
    refused: stat('refused', 'Refused (409)'),
    queue: stat('queue', 'Queue jobs', { sub: 'all sales; a job holds the purchases admitted together' }),
    confirmed: stat('confirmed', 'Confirmed', { cls: 'stat-ok' }),
    rejected: stat('rejected', 'Rejected'),
    orders: stat('orders', 'Orders'),
    sold: stat('sold', 'Sold (paid units)', { sub: `of ${formatCount(sale.stock)} in stock` }),
    held: stat('held', 'Held (unpaid units)', { sub: sale.holdSeconds ? `awaiting payment (${holdText(sale.holdSeconds)} to pay)` : 'awaiting payment' }),
    postgres: stat('remaining-postgres', 'Left · PostgreSQL', { sub: 'authoritative' }),
    redis: stat('remaining-redis', 'Left · Redis', { sub: 'the gate' }),
    live: stat('remaining-live', 'Left · live', { sub: 'waiting for sale:stock' }),
    drift: stat('drift', 'Drift', { sub: 'Redis + pending − PostgreSQL' }),
  };
  // Under three counters, their breakdown instead of a line of text.
  const holds = breakdown('holds', 'What became of the confirmed purchases');
  const reasons = breakdown('rejected-reasons', 'Rejected by the worker, by reason');
  const refusedCodes = breakdown('refused-codes', 'Refused with a 409 by the gate, by code');
  stats.confirmed.sub.replaceWith(holds);
  stats.rejected.sub.replaceWith(reasons);
  stats.refused.sub.replaceWith(refusedCodes);
  const checks = h('div', { class: 'checks', 'aria-label': 'Invariant checks' });
  const chart = h('div', {});
  const legendA = h('b', {}, '0');
  const legendC = h('b', {}, '0');
  const updated = h('p', { class: 'hint' }, 'Loading stats…');
  const error = h('div', { class: 'msg-region', role: 'alert' });
  const badgeSlot = h('span', { 'data-testid': 'live-status' });
  const title = h('h2', { id: 'live-title', tabindex: '-1' }, sale.name);
  const summary = h('p', { class: 'sub' });
  const manage = managePanel();
  const close = h('button', { class: 'btn btn-sm', type: 'button', onclick: () => (location.hash = '') }, 'Close');

  liveEl.dataset.saleId = saleId;
  liveEl.replaceChildren(
    h(
      'div',
      { class: 'live-head' },
      h('div', {}, h('p', { class: 'eyebrow' }, 'Live view'), title, summary, h('p', { class: 'sub mono' }, saleId)),
      h('div', { class: 'form-actions' }, badgeSlot, close),
    ),
    error,
    h('div', { class: 'stat-grid' }, ...Object.values(stats).map((s) => s.el)),
    checks,
    manage.el,
    lineCard(sale),
    h(
      'div',
      { class: 'chart-card' },
      h(
        'div',
        { class: 'chart-head' },
        h('h3', {}, 'Throughput per second'),
        h('div', { class: 'legend' }, h('span', { class: 'l-admitted' }, 'Admissions/s ', legendA), h('span', { class: 'l-confirmed' }, 'Confirmations/s ', legendC)),
      ),
      chart,
    ),
    updated,
  );
  liveEl.hidden = false;

  const live = {
    saleId,
    sale,
    saleVersion: 0, // bumped by each change the page makes: an older refresh must not undo it
    seq,
    timer: undefined,
    polls: 0,
    polling: false,
    pollAgain: false,
    busy: false, // an action is running
    samples: [], // { t, admitted, confirmed, aRate, cRate }, one per poll, for the chart
    peak: { admitted: 0, confirmed: 0 },
    refs: { stats, holds, reasons, refusedCodes, checks, chart, legendA, legendC, updated, error, badge: badgeSlot, title, summary, manage, liveAt: stats.live.sub },
  };
  update({ live });
  showLiveSale(sale);
  drawChart(live);
  if (state.socket?.connected) state.socket.emit('sale:watch', { saleId }, () => undefined);
  title.focus({ preventScroll: true });
  liveEl.scrollIntoView({ block: 'nearest' });
  void pollStats(seq);
}

subscribe('token', (token) => {
  if (token) route();
  else stopLive();
});
