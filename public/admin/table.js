// The sales table: GET /api/admin/sales every 5 s, filtered and paged, with the sales created
// on this page in front; rows are updated in place so focus stays put.
import { NetworkError, api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { badge, formatCount, formatMoney, shortId } from '../common/format.js';
import { authFailed } from './session.js';
import { state, subscribe } from './state.js';

const PAGE = 20;
const MAX_SALES = 200;
const REFRESH_MS = 5000;
/** Rows whose purchase outcomes are read (GET /api/admin/sales/:id/stats) each refresh: the first ones shown. */
const STATS_ROWS = 40;
const STATS_PARALLEL = 6;

const els = {
  body: byId('sales-body'),
  count: byId('sales-count'),
  empty: byId('sales-empty'),
  error: byId('sales-error'),
  filter: byId('sales-filter'),
  more: byId('sales-more'),
};

let sales = new Map(); // the current page
const created = new Map(); // sales created on this page: listed even when off the current page
let limit = PAGE;
let seq = 0; // bumped to drop the answers of a load that is no longer wanted
let hasMore = false;
let timer;
const rowsById = new Map();
const statsById = new Map(); // saleId -> the stats' `holds` ({ held, paid, expired, cancelled }) from the latest read

/** A hold length as an admin reads it: 10 min, 90 s, 1 h 30 min. */
export function holdText(seconds) {
  const s = Number(seconds);
  if (!Number.isFinite(s)) return '?';
  if (s < 120) return `${s} s`;
  if (s < 7200) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const m = Math.round(s / 60);
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/**
 * What became of the confirmed purchases of the sales shown (paid, held, expired, cancelled;
 * an upcoming sale has none): the list does not carry them, so each is read from its stats'
 * `holds`, a few at a time.
 */
async function loadRowStats(shown, mine) {
  const queue = shown.filter((s) => s.status !== 'upcoming').slice(0, STATS_ROWS);
  const worker = async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      if (mine !== seq) return;
      try {
        const r = await api(`/api/admin/sales/${s.id}/stats`, { token: state.token });
        if (!r.ok || mine !== seq) continue;
        statsById.set(s.id, r.data.holds);
        const row = rowsById.get(s.id);
        if (row) fillRowStats(row, s.id);
      } catch {
        /* the next refresh tries again */
      }
    }
  };
  await Promise.all(Array.from({ length: STATS_PARALLEL }, worker));
}

function fillRowStats(row, id) {
  const holds = statsById.get(id);
  const set = (el, text) => {
    if (el.textContent !== text) el.textContent = text;
  };
  const cell = (field) => row.querySelector(`[data-field="${field}"]`);
  set(cell('paid'), holds ? formatCount(holds.paid) : '–');
  set(cell('held'), holds ? formatCount(holds.held) : '–');
  set(cell('expired'), holds ? formatCount(holds.expired) : '–');
  // Holds the shopper gave up, under the expired ones: "+1 given up" (the words never split).
  const cancelled = cell('cancelled');
  const given = holds?.cancelled ? `+${formatCount(holds.cancelled)}` : '';
  if (cancelled.dataset.n !== given) {
    cancelled.dataset.n = given;
    cancelled.replaceChildren(...(given ? [given, ' ', h('span', { class: 'nowrap' }, 'given up')] : []));
  }
  cancelled.hidden = !given;
}

/** A link to the sale in the shop (the only way in to an unlisted one), in a new tab. */
export const shopLink = (saleId, text) => h('a', { href: `/#sale=${saleId}`, target: '_blank', rel: 'noopener', 'data-testid': 'shop-link' }, text);

/** A sale the page knows already (listed or created here), so the live view can open without a fetch. */
export const knownSale = (id) => sales.get(id) ?? created.get(id);

/** A sale the sale form just created: shown at once, then the list is refreshed. */
export function saleCreated(sale) {
  created.set(sale.id, sale);
  renderSalesTable();
  void loadSales();
}

/**
 * Refreshes the table: the first `limit` sales, newest first, page by page; one more than
 * shown tells whether "Show more" has anything to show.
 */
async function loadSales() {
  clearTimeout(timer);
  const mine = ++seq;
  const status = els.filter.value;
  const want = limit + 1;
  try {
    const found = new Map();
    for (let offset = 0; found.size < want; ) {
      const pageSize = Math.min(100, want - found.size);
      const q = new URLSearchParams({ limit: String(pageSize), offset: String(offset) });
      if (status) q.set('status', status);
      const r = await api(`/api/admin/sales?${q}`, { token: state.token });
      if (mine !== seq) return;
      if (r.status === 401 || r.status === 403) return authFailed(r);
      if (!r.ok) throw new Error(`${r.error.message} (${r.error.code})`);
      for (const s of r.data.items) if (!found.has(s.id)) found.set(s.id, s);
      if (r.data.items.length < pageSize) break;
      offset += pageSize;
    }
    const items = [...found.values()];
    hasMore = items.length > limit;
    sales = new Map(items.slice(0, limit).map((s) => [s.id, s]));
    for (const s of sales.values()) if (created.has(s.id)) created.set(s.id, s);
    els.error.replaceChildren();
    renderSalesTable();
    void loadRowStats([...els.body.children].map((row) => knownSale(row.dataset.saleId)).filter(Boolean), mine);
  } catch (err) {
    if (mine !== seq) return;
    const text = err instanceof NetworkError ? 'The engine cannot be reached; retrying…' : `Sales could not be loaded: ${err.message}`;
    els.error.replaceChildren(h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, text)));
  }
  if (state.token && mine === seq) timer = setTimeout(() => void loadSales(), REFRESH_MS);
}

const shortDate = (iso) => new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const shortTime = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
const sameDay = (a, b) => new Date(a).toDateString() === new Date(b).toDateString();

function renderSalesTable() {
  const filter = els.filter.value;
  const all = new Map(sales);
  for (const [id, s] of created) if (!all.has(id) && (!filter || s.status === filter)) all.set(id, s);
  // Sales created here first (newest first), then the page, newest start first.
  const order = [...created.keys()].reverse();
  const rank = (s) => (created.has(s.id) ? order.indexOf(s.id) : Infinity);
  const shown = [...all.values()].sort((a, b) => rank(a) - rank(b) || Date.parse(b.startsAt) - Date.parse(a.startsAt));
  els.empty.hidden = shown.length > 0;
  els.more.hidden = !hasMore || limit >= MAX_SALES;
  els.count.textContent = shown.length ? `${shown.length} shown` : '';
  // Rows are updated in place and only re-ordered when the order changed: focus stays put.
  const rows = shown.map((s) => saleRow(s));
  for (const id of rowsById.keys()) if (!all.has(id)) rowsById.delete(id);
  const current = [...els.body.children];
  if (rows.length !== current.length || rows.some((r, i) => current[i] !== r)) els.body.replaceChildren(...rows);
}

function saleRow(s) {
  let row = rowsById.get(s.id);
  if (!row) {
    const cell = (cls) => h('td', cls ? { class: cls } : {});
    row = h(
      'tr',
      { 'data-testid': 'sale-row', 'data-sale-id': s.id },
      h('td', {}, h('div', { class: 'name' }), h('div', { class: 'sub' })),
      cell(),
      h('td', { class: 'num', 'data-testid': 'sale-row-left' }),
      h('td', { class: 'num group-start', 'data-field': 'paid', 'data-testid': 'sale-row-paid' }, '–'),
      h('td', { class: 'num', 'data-field': 'held', 'data-testid': 'sale-row-held' }, '–'),
      h(
        'td',
        { class: 'num group-end' },
        h('div', { 'data-field': 'expired', 'data-testid': 'sale-row-expired' }, '–'),
        h('div', { class: 'sub', 'data-field': 'cancelled', 'data-testid': 'sale-row-cancelled', title: 'Holds the shopper gave up (stats: holds.cancelled)', hidden: true }),
      ),
      cell('window'),
      h(
        'td',
        { class: 'num' },
        h(
          'button',
          { class: 'btn btn-sm', type: 'button', 'data-testid': 'watch-sale', onclick: () => (location.hash = `sale=${s.id}`) },
          'Watch',
        ),
      ),
    );
    rowsById.set(s.id, row);
  }
  const key = JSON.stringify([s.name, s.status, s.remaining, s.stock, s.priceCents, s.startsAt, s.endsAt, s.holdSeconds, s.listed, created.has(s.id)]);
  if (row.dataset.key !== key) {
    row.dataset.key = key;
    const [name, status, left, , , , span] = row.children;
    name.firstChild.replaceChildren(
      s.name,
      s.listed === false
        ? h('span', { class: 'unlisted-tag', 'data-testid': 'sale-row-unlisted', title: 'Not in the shop\'s list: shoppers reach it by its link only' }, 'unlisted')
        : '',
      created.has(s.id) ? h('span', { class: 'new-tag' }, 'new') : '',
    );
    status.replaceChildren(badge(s.status));
    // The price and the id under the name; the units left over the stock.
    name.lastChild.replaceChildren(h('span', { class: 'price' }, formatMoney(s.priceCents)), ` · ${shortId(s.id)}`);
    left.replaceChildren(h('div', {}, formatCount(s.remaining)), h('div', { class: 'sub' }, h('span', { class: 'nowrap' }, `of ${formatCount(s.stock)}`)));
    span.replaceChildren(
      h('div', {}, shortDate(s.startsAt)),
      h('div', { class: 'muted' }, `→ ${sameDay(s.startsAt, s.endsAt) ? shortTime(s.endsAt) : shortDate(s.endsAt)}`),
      h('div', { class: 'muted', 'data-testid': 'sale-row-hold' }, `${holdText(s.holdSeconds)} to pay`),
    );
    row.querySelector('button').setAttribute('aria-label', `Watch ${s.name} live`);
  }
  fillRowStats(row, s.id);
  if (state.live?.saleId === s.id) row.setAttribute('aria-current', 'true');
  else row.removeAttribute('aria-current');
  return row;
}

els.filter.addEventListener('change', () => {
  limit = PAGE;
  void loadSales();
});

els.more.addEventListener('click', () => {
  limit = Math.min(MAX_SALES, limit + PAGE);
  void loadSales();
});

subscribe('token', (token) => {
  if (token) return void loadSales();
  clearTimeout(timer);
  seq++;
});

// A sale view the page learned of (an edit, a cancel, a refresh, a push): wherever it is listed.
subscribe('sale', (sale) => {
  if (sales.has(sale.id)) sales.set(sale.id, { ...sales.get(sale.id), ...sale });
  if (created.has(sale.id)) created.set(sale.id, { ...created.get(sale.id), ...sale });
  renderSalesTable();
});

// The watched sale's row is marked.
subscribe('live', () => renderSalesTable());
