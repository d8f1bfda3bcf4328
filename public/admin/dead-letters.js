// The dead letters: GET /api/admin/dead-letters every 10 s while signed in (a page of 20,
// filtered by kind), each with a Replay button (POST /api/admin/dead-letters/:id/replay).
import { NetworkError, api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { formatCount, formatDateTime, shortId } from '../common/format.js';
import { authFailed } from './session.js';
import { state, subscribe } from './state.js';

const PAGE = 20;
const REFRESH_MS = 10_000;

const els = {
  body: byId('dead-body'),
  count: byId('dead-count'),
  empty: byId('dead-empty'),
  error: byId('dead-error'),
  filter: byId('dead-filter'),
  prev: byId('dead-prev'),
  next: byId('dead-next'),
};

let offset = 0;
let seq = 0;
let timer;

const message = (kind, text) => els.error.replaceChildren(h('div', { class: `msg msg-${kind}` }, h('span', { class: 'msg-text' }, text)));

/** What failed, in a few words: the event and its URL, or the shopper's purchase. */
function what(d) {
  if (d.kind === 'webhook') return [h('div', { class: 'name' }, `Webhook ${d.webhook.eventType}`), h('div', { class: 'sub' }, d.webhook.url)];
  const p = d.purchase;
  return [h('div', { class: 'name' }, `Purchase, ${formatCount(p.quantity)} × sale ${shortId(p.saleId)}`), h('div', { class: 'sub' }, `shopper ${p.userId}`)];
}

/** The gist of an error: a database error's message follows its SQL after " - "; the whole text stays in the tooltip. */
function errorGist(text) {
  if (!text) return '–';
  const cut = text.lastIndexOf(' - ');
  const gist = cut >= 0 ? text.slice(cut + 3) : text;
  return gist.length > 120 ? `${gist.slice(0, 117)}…` : gist;
}

async function replay(d, button) {
  button.disabled = true;
  try {
    const r = await api(`/api/admin/dead-letters/${d.id}/replay`, { token: state.token, method: 'POST', body: {} });
    if (r.status === 401 || r.status === 403) return authFailed(r);
    if (!r.ok) return message('error', `Replay refused: ${r.error.message} (${r.error.code})`);
    message(
      'success',
      d.kind === 'webhook' ? `Delivery ${shortId(d.id)} queued again.` : `Purchase attempted again: ${shortId(r.data.purchase.purchaseId)} is ${r.data.purchase.status}.`,
    );
    void load();
  } catch (err) {
    message('error', err instanceof NetworkError ? 'The engine cannot be reached; try again.' : String(err));
  } finally {
    button.disabled = false;
  }
}

function row(d) {
  const button = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'replay' }, 'Replay');
  button.addEventListener('click', () => void replay(d, button));
  return h(
    'tr',
    { 'data-dead-letter-id': d.id },
    h('td', {}, what(d)),
    h('td', { class: 'num' }, formatCount(d.attempts)),
    h('td', { class: 'error', title: d.lastError ?? undefined }, errorGist(d.lastError)),
    h('td', {}, h('div', { class: 'nowrap' }, formatDateTime(d.failedAt)), d.replays ? h('div', { class: 'sub' }, `replayed ${d.replays}×`) : null),
    h('td', {}, button),
  );
}

async function load() {
  clearTimeout(timer);
  const mine = ++seq;
  const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
  if (els.filter.value) q.set('kind', els.filter.value);
  try {
    const r = await api(`/api/admin/dead-letters?${q}`, { token: state.token });
    if (mine !== seq) return;
    if (r.status === 401 || r.status === 403) return authFailed(r);
    if (!r.ok) throw new Error(`${r.error.message} (${r.error.code})`);
    els.body.replaceChildren(...r.data.items.map(row));
    els.count.textContent = r.data.total ? formatCount(r.data.total) : '';
    els.empty.hidden = r.data.total > 0;
    els.prev.hidden = offset === 0;
    els.next.hidden = offset + PAGE >= r.data.total;
  } catch (err) {
    if (mine !== seq) return;
    message('error', err instanceof NetworkError ? 'The engine cannot be reached; retrying…' : `Dead letters could not be loaded: ${err.message}`);
  }
  if (state.token && mine === seq) timer = setTimeout(() => void load(), REFRESH_MS);
}

els.filter.addEventListener('change', () => {
  offset = 0;
  void load();
});
els.prev.addEventListener('click', () => {
  offset = Math.max(0, offset - PAGE);
  void load();
});
els.next.addEventListener('click', () => {
  offset += PAGE;
  void load();
});

subscribe('token', (token) => {
  if (token) void load();
  else {
    clearTimeout(timer);
    seq++;
    els.body.replaceChildren();
  }
});
