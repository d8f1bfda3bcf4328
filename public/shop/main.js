// The shopper page: sales list (#), one sale (#sale=<id>), buying, live purchase status.
import { NetworkError, api, newIdempotencyKey, sleep } from '../common/api.js';
import { countdown, startCountdowns } from '../common/countdown.js';
import { byId, h } from '../common/dom.js';
import { badge, formatCount, formatDateTime, formatMoney, formatTime, shortId } from '../common/format.js';
import { openSocket, showConnState } from '../common/socket.js';
import { decodeToken, takeTokenFromFragment, tokenProblem, tokenStore } from '../common/token.js';

const store = tokenStore('flashsale.shopper.token');
const els = {
  main: byId('content'),
  view: byId('view'),
  signin: byId('signin'),
  signinForm: byId('signin-form'),
  tokenInput: byId('token-input'),
  signinError: byId('signin-error'),
  conn: byId('conn'),
  who: byId('who'),
  signOut: byId('sign-out'),
  myPurchases: byId('my-purchases'),
  purchaseList: byId('purchase-list'),
  purchaseEmpty: byId('purchase-empty'),
  refreshPurchases: byId('refresh-purchases'),
};

const LIST_REFRESH_MS = 10_000;
const POLL_MS = 1000;
/** A purchase never moves back: a late poll answer cannot undo what the socket said. */
const RANK = { queued: 0, processing: 0, confirmed: 1, rejected: 1, paid: 2, expired: 2, cancelled: 2 };
const HELD = new Set(['queued', 'processing', 'confirmed', 'paid']);

const state = {
  token: null,
  socket: null,
  sales: new Map(), // id -> sale resource (remaining/status kept live)
  purchases: new Map(), // purchaseId -> purchase (+ `via`: who told us its status)
  polls: new Map(), // purchaseId -> timer
  lastAttempt: new Map(), // saleId -> purchaseId of the latest attempt made on this page
  watched: new Set(), // sale ids this page watches over the socket
  saleFetches: new Map(), // saleId -> in-flight GET (names for "My purchases")
  routeSeq: 0,
  listTimer: undefined,
  sending: false,
  blockedUntil: 0,
  blockTimer: undefined,
  detail: null, // the open sale view's elements
};

/* ================= routing ================= */

function route() {
  const params = new URLSearchParams(location.hash.slice(1));
  const sale = params.get('sale');
  return sale ? { name: 'sale', id: sale.toLowerCase() } : { name: 'list' };
}

function render({ focus = false } = {}) {
  const seq = ++state.routeSeq;
  clearTimeout(state.listTimer);
  state.detail = null;
  const r = route();
  if (r.name === 'sale') void renderSale(r.id, seq, focus);
  else void renderList(seq, focus);
}

window.addEventListener('hashchange', () => {
  // A token pasted into the address bar later is honoured too.
  if (new URLSearchParams(location.hash.slice(1)).has('token')) {
    takeTokenFromFragment(store);
    startSession();
  }
  window.scrollTo(0, 0);
  render({ focus: true });
});

/* ================= sales: shared rendering ================= */

function whenLine(sale) {
  switch (sale.status) {
    case 'upcoming':
      return ['Starts in ', countdown(Date.parse(sale.startsAt))];
    case 'active':
    case 'sold_out':
      return ['Ends in ', countdown(Date.parse(sale.endsAt))];
    case 'ended':
      return [`Ended ${formatDateTime(sale.endsAt)}`];
    default:
      return ['Cancelled'];
  }
}

function meter() {
  return h('div', { class: 'meter', 'data-field': 'meter', 'aria-hidden': 'true' }, h('div', { class: 'meter-fill' }));
}

/** Updates every element showing `sale` (its card and/or its open view) in place. */
function fillSale(root, sale) {
  const set = (field, text) => {
    for (const el of root.querySelectorAll(`[data-field="${field}"]`)) if (el.textContent !== text) el.textContent = text;
  };
  set('remaining', formatCount(sale.remaining));
  set('stock', formatCount(sale.stock));
  const m = root.querySelector('[data-field="meter"]');
  if (m) {
    const pct = sale.stock > 0 ? Math.max(0, Math.min(100, (sale.remaining / sale.stock) * 100)) : 0;
    m.firstElementChild.style.width = `${pct}%`;
    m.dataset.low = String(pct <= 20);
  }
  if (root.dataset.status !== sale.status) {
    root.dataset.status = sale.status;
    const b = root.querySelector('[data-field="badge"]');
    if (b) b.replaceWith(badge(sale.status, { 'data-field': 'badge' }));
    const when = root.querySelector('[data-field="when"]');
    if (when) when.replaceChildren(...whenLine(sale));
  }
}

function updateSaleDom(sale) {
  for (const root of document.querySelectorAll(`[data-sale-id="${sale.id}"]`)) fillSale(root, sale);
  if (state.detail?.saleId === sale.id) updateBuyState();
}

function rememberSale(sale) {
  const prev = state.sales.get(sale.id);
  state.sales.set(sale.id, { ...prev, ...sale });
  return state.sales.get(sale.id);
}

/** Re-reads one sale (its countdown ran out, or a refusal says the page is stale). */
async function refreshSale(id, attemptsLeft = 4) {
  try {
    const r = await api(`/api/sales/${id}`);
    if (!r.ok) return;
    const before = state.sales.get(id)?.status;
    const sale = rememberSale(r.data);
    updateSaleDom(sale);
    // Our clock may run ahead of the server's: ask again until the status flips.
    if (before === sale.status && attemptsLeft > 0 && sale.status === 'upcoming') {
      setTimeout(() => void refreshSale(id, attemptsLeft - 1), 1000);
    }
  } catch {
    /* the next tick or socket event will tell */
  }
}

document.addEventListener('countdown-done', (e) => {
  const root = e.target.closest('[data-sale-id]');
  if (root) setTimeout(() => void refreshSale(root.dataset.saleId), 300);
});

/* ================= list view ================= */

function saleCard(sale) {
  const card = h(
    'a',
    { class: 'sale-card', href: `#sale=${sale.id}`, 'data-testid': 'sale-card', 'data-sale-id': sale.id },
    h('div', { class: 'sale-card-head' }, h('h3', { class: 'sale-name' }, sale.name), badge(sale.status, { 'data-field': 'badge' })),
    h('p', { class: 'price' }, formatMoney(sale.priceCents)),
    h(
      'div',
      { class: 'stock-line' },
      h('span', {}, h('strong', { 'data-testid': 'sale-remaining', 'data-field': 'remaining' }), ' left'),
      h('span', {}, 'of ', h('span', { 'data-field': 'stock' })),
    ),
    meter(),
    h('p', { class: 'when', 'data-field': 'when' }, ...whenLine(sale)),
  );
  card.dataset.status = sale.status;
  fillSale(card, sale);
  return card;
}

function saleGroup(id, title, emptyText) {
  const grid = h('div', { class: 'sale-grid' });
  const count = h('span', { class: 'count' });
  const empty = h('p', { class: 'empty', hidden: true }, emptyText);
  const loading = h('p', { class: 'muted' }, 'Loading sales…');
  const el = h('section', { class: 'sale-group', 'aria-labelledby': id }, h('div', { class: 'section-head' }, h('h2', { id }, title), count), loading, grid, empty);
  return { el, grid, count, empty, loading };
}

async function renderList(seq, focus) {
  const error = h('div', { class: 'msg-region', 'data-testid': 'error-message', role: 'alert' });
  const groups = {
    active: saleGroup('g-active', 'Live now', 'No sale is live right now. See what is coming up below.'),
    upcoming: saleGroup('g-upcoming', 'Coming up', 'Nothing is scheduled yet. Check back soon.'),
    sold_out: saleGroup('g-sold', 'Just sold out', ''),
  };
  document.title = 'FlashSale — live drops';
  const title = h('h1', { tabindex: '-1' }, 'Flash sales');
  els.view.replaceChildren(
    h('section', { class: 'intro' }, title, h('p', { class: 'muted' }, 'Limited stock, first come, first served. Stock and countdowns update live.')),
    error,
    groups.active.el,
    groups.upcoming.el,
    groups.sold_out.el,
  );
  if (focus) title.focus();
  await loadList(seq, groups, error);
}

async function loadList(seq, groups, error) {
  try {
    const statuses = ['active', 'upcoming', 'sold_out'];
    const replies = await Promise.all(statuses.map((s) => api(`/api/sales?status=${s}&limit=${s === 'sold_out' ? 6 : 30}`)));
    if (seq !== state.routeSeq) return;
    const failed = replies.find((r) => !r.ok);
    if (failed) throw new Error(failed.error.message);
    const lists = Object.fromEntries(statuses.map((s, i) => [s, replies[i].data.items.map(rememberSale)]));
    lists.active.sort((a, b) => Date.parse(a.endsAt) - Date.parse(b.endsAt));
    lists.upcoming.sort((a, b) => Date.parse(a.startsAt) - Date.parse(b.startsAt));
    for (const s of statuses) {
      const g = groups[s];
      // Cards are updated in place and only re-ordered when the order changed: focus stays put.
      const existing = new Map([...g.grid.children].map((c) => [c.dataset.saleId, c]));
      const cards = lists[s].map((sale) => {
        const card = existing.get(sale.id);
        if (!card) return saleCard(sale);
        fillSale(card, sale);
        return card;
      });
      if (cards.length !== g.grid.children.length || cards.some((c, i) => g.grid.children[i] !== c)) g.grid.replaceChildren(...cards);
      g.loading.hidden = true;
      g.count.textContent = lists[s].length ? `${lists[s].length} sale${lists[s].length === 1 ? '' : 's'}` : '';
      g.empty.hidden = lists[s].length > 0 || s === 'sold_out';
      if (s === 'sold_out') g.el.hidden = lists[s].length === 0;
    }
    watchSales(statuses.flatMap((s) => lists[s].map((sale) => sale.id)));
    error.replaceChildren();
  } catch (err) {
    if (seq !== state.routeSeq) return;
    const reason = err instanceof NetworkError ? 'The shop cannot be reached right now.' : `Sales could not be loaded (${err.message}).`;
    error.replaceChildren(h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, `${reason} Retrying automatically…`)));
  } finally {
    if (seq === state.routeSeq) state.listTimer = setTimeout(() => void loadList(seq, groups, error), LIST_REFRESH_MS);
  }
}

/* ================= sale view ================= */

async function renderSale(id, seq, focus) {
  const back = h('a', { class: 'back', href: '#' }, '← All sales');
  els.view.replaceChildren(back, h('div', { class: 'card muted', role: 'status' }, 'Loading sale…'));
  let r;
  try {
    r = await api(`/api/sales/${encodeURIComponent(id)}`);
  } catch {
    if (seq !== state.routeSeq) return;
    const retry = h('button', { class: 'btn btn-sm', type: 'button', onclick: () => render() }, 'Retry');
    els.view.replaceChildren(back, h('div', { 'data-testid': 'error-message', role: 'alert' }, h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, 'The shop cannot be reached right now.'), retry)));
    return;
  }
  if (seq !== state.routeSeq) return;
  if (!r.ok) {
    const text = r.status === 404 ? 'This sale does not exist (or no longer exists).' : `This sale could not be loaded (${r.error.code}).`;
    els.view.replaceChildren(back, h('div', { 'data-testid': 'error-message', role: 'alert' }, h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, text))));
    return;
  }
  const sale = rememberSale(r.data);
  document.title = `${sale.name} — FlashSale`;

  const title = h('h1', { id: 'sale-title', tabindex: '-1' }, sale.name);
  const qty = h('input', {
    id: 'quantity',
    name: 'quantity',
    type: 'number',
    min: '1',
    max: String(sale.perUserLimit),
    step: '1',
    value: '1',
    inputmode: 'numeric',
    required: true,
    'aria-describedby': 'quantity-hint',
    'data-testid': 'quantity',
  });
  const qtyHint = h('p', { id: 'quantity-hint', class: 'hint' });
  const buy = h('button', { class: 'btn btn-primary btn-lg', type: 'submit', 'data-testid': 'buy-button' }, 'Buy now');
  const form = h(
    'form',
    { class: 'buy-form', novalidate: true, 'aria-label': `Buy ${sale.name}` },
    h('div', { class: 'field' }, h('label', { for: 'quantity' }, 'Quantity'), qty),
    buy,
  );
  const notice = h('p', { class: 'notice', 'aria-live': 'polite', 'data-testid': 'sale-notice' });
  const error = h('div', { class: 'msg-region', 'data-testid': 'error-message', role: 'alert' });
  const panel = h('div', { class: 'purchase-region', role: 'status', 'aria-live': 'polite', 'data-testid': 'purchase-status' });

  const view = h(
    'article',
    { class: 'card sale-detail', 'data-sale-id': sale.id, 'data-testid': 'sale-view', 'aria-labelledby': 'sale-title' },
    h(
      'div',
      { class: 'sale-detail-head' },
      h('div', {}, h('p', { class: 'eyebrow' }, 'Flash sale'), title),
      badge(sale.status, { 'data-field': 'badge' }),
    ),
    h(
      'div',
      { class: 'sale-detail-grid' },
      h(
        'section',
        { class: 'stock-panel', 'aria-label': 'Stock' },
        h('p', { class: 'label' }, 'Left in stock'),
        h(
          'p',
          { class: 'remaining-big' },
          h('span', { 'data-testid': 'sale-remaining', 'data-field': 'remaining' }),
          h('span', { class: 'of' }, 'of ', h('span', { 'data-field': 'stock' })),
        ),
        meter(),
        h('p', { class: 'when', 'data-field': 'when' }, ...whenLine(sale)),
        h('p', { class: 'hint' }, `Window: ${formatDateTime(sale.startsAt)} – ${formatDateTime(sale.endsAt)}`),
      ),
      h(
        'section',
        { class: 'buy-panel', 'aria-label': 'Buy' },
        h('p', { class: 'price-big' }, formatMoney(sale.priceCents), h('span', { class: 'each' }, ' each')),
        notice,
        form,
        qtyHint,
        error,
        panel,
      ),
    ),
  );
  view.dataset.status = sale.status;
  els.view.replaceChildren(back, view);
  fillSale(view, sale);
  state.detail = { saleId: sale.id, view, qty, qtyHint, buy, notice, error, panel, pending: null };
  form.addEventListener('submit', onBuy);
  qty.addEventListener('input', () => qty.removeAttribute('aria-invalid'));
  updateBuyState();
  renderPurchases();
  watchSales([sale.id]);
  if (focus) title.focus();
}

function noticeFor(sale) {
  switch (sale.status) {
    case 'upcoming':
      return ['Opens in ', countdown(Date.parse(sale.startsAt)), '. Keep this page open: the Buy button works the moment it opens.'];
    case 'sold_out':
      return ['Sold out. If an order falls through, units come back: the stock here updates live.'];
    case 'ended':
      return ['This sale has ended.'];
    case 'cancelled':
      return ['This sale was cancelled.'];
    default:
      return [];
  }
}

function heldUnits(saleId) {
  let n = 0;
  for (const p of state.purchases.values()) if (p.saleId === saleId && HELD.has(p.status)) n += Number(p.quantity) || 0;
  return n;
}

function updateBuyState() {
  const d = state.detail;
  if (!d) return;
  const sale = state.sales.get(d.saleId);
  const closed = sale.status === 'ended' || sale.status === 'cancelled';
  const waiting = state.blockedUntil > Date.now();
  d.buy.disabled = state.sending || closed || waiting;
  d.buy.setAttribute('aria-busy', String(state.sending));
  d.buy.textContent = state.sending
    ? 'Sending…'
    : closed
      ? sale.status === 'ended'
        ? 'Sale ended'
        : 'Sale cancelled'
      : waiting
        ? 'Please wait…'
        : 'Buy now';
  d.qty.disabled = closed;
  if (d.notice.dataset.status !== sale.status) {
    d.notice.dataset.status = sale.status;
    d.notice.className = `notice notice-${sale.status}`;
    d.notice.replaceChildren(...noticeFor(sale));
  }
  const held = heldUnits(sale.id);
  const hint = `Limit ${sale.perUserLimit} per shopper${held ? `; you have ${held}` : ''}.`;
  if (d.qtyHint.textContent !== hint) d.qtyHint.textContent = hint;
}

/** Shows a message in the sale view (kind: error | warning | info | success), with optional buttons. */
function showMessage(content, { kind = 'error', code, actions = [] } = {}) {
  const d = state.detail;
  if (!d) return;
  d.error.dataset.code = code ?? '';
  d.error.replaceChildren(h('div', { class: `msg msg-${kind}` }, h('span', { class: 'msg-text' }, ...[content].flat()), ...actions));
}

function clearMessage() {
  if (!state.detail) return;
  state.detail.error.dataset.code = '';
  state.detail.error.replaceChildren();
}

/* ================= buying ================= */

async function onBuy(event) {
  event.preventDefault();
  const d = state.detail;
  if (!d || state.sending) return;
  const sale = state.sales.get(d.saleId);
  clearMessage();
  if (!state.token) {
    promptSignIn('Sign in to buy: paste your shopper token in the box above.');
    return;
  }
  const quantity = Number(d.qty.value);
  if (!Number.isInteger(quantity) || quantity < 1 || quantity > sale.perUserLimit) {
    d.qty.setAttribute('aria-invalid', 'true');
    showMessage(`Choose a quantity from 1 to ${sale.perUserLimit}.`, { code: 'VALIDATION_FAILED' });
    d.qty.focus();
    return;
  }
  // One click, one Idempotency-Key: retrying this click after a network error reuses it.
  await send({ key: newIdempotencyKey(), saleId: sale.id, quantity });
}

/** POSTs the attempt; on a network error retries twice with the same key, then offers a Retry button. */
async function post(attempt) {
  for (let i = 0; ; i++) {
    try {
      return await api(`/api/sales/${attempt.saleId}/purchases`, {
        method: 'POST',
        token: state.token,
        headers: { 'Idempotency-Key': attempt.key },
        body: { quantity: attempt.quantity },
      });
    } catch (err) {
      if (!(err instanceof NetworkError) || i >= 2) throw err;
      await sleep(400 * 3 ** i);
    }
  }
}

async function send(attempt) {
  state.sending = true;
  updateBuyState();
  let r;
  try {
    r = await post(attempt);
  } catch (err) {
    state.sending = false;
    updateBuyState();
    if (!(err instanceof NetworkError)) throw err;
    if (state.detail?.saleId === attempt.saleId) {
      const retry = h(
        'button',
        { class: 'btn btn-sm', type: 'button', 'data-testid': 'retry-button', onclick: () => void (clearMessage(), send(attempt)) },
        'Retry',
      );
      showMessage("We couldn't reach the shop (network problem). Retry sends the very same request again, so it can never buy twice.", {
        code: 'NETWORK',
        actions: [retry],
      });
    }
    return;
  }
  state.sending = false;
  if (r.ok) {
    const p = { createdAt: new Date().toISOString(), ...r.data, saleId: r.data.saleId ?? attempt.saleId, quantity: r.data.quantity ?? attempt.quantity };
    state.lastAttempt.set(p.saleId, p.purchaseId);
    applyPurchase(p, 'http', { force: true });
    if (p.status === 'queued') startPolling(p.purchaseId);
  } else {
    onRefused(r, attempt);
  }
  updateBuyState();
}

/** Pauses the Buy button for Retry-After seconds, with a live countdown in the message. */
function holdOff(seconds, before, after, code) {
  const until = Date.now() + Math.max(1, seconds) * 1000;
  state.blockedUntil = until;
  clearTimeout(state.blockTimer);
  showMessage([before, countdown(until), after], { kind: 'warning', code });
  state.blockTimer = setTimeout(() => {
    updateBuyState();
    if (state.detail?.error.dataset.code === code) showMessage('You can try again now.', { kind: 'info', code: `${code}_OVER` });
  }, until - Date.now());
}

function onRefused(r, attempt) {
  const { code, message } = r.error;
  const sale = state.sales.get(attempt.saleId);
  if (state.detail?.saleId !== attempt.saleId && code !== 'UNAUTHENTICATED') return;
  switch (code) {
    case 'SOLD_OUT':
      if (sale && attempt.quantity > 1 && sale.remaining > 0 && sale.remaining < attempt.quantity) {
        showMessage(`Sold out at that quantity: only ${formatCount(sale.remaining)} left and you asked for ${attempt.quantity}. Try fewer.`, { code });
      } else {
        showMessage('Sold out: your order was not placed, every unit has been claimed.', { code });
      }
      void refreshSale(attempt.saleId);
      break;
    case 'LIMIT_EXCEEDED': {
      const held = heldUnits(attempt.saleId);
      showMessage(
        `That would take you over the limit of ${sale?.perUserLimit ?? '?'} per shopper for this sale${held ? ` (you already have ${held})` : ''}.`,
        { code },
      );
      void refreshMyPurchases();
      break;
    }
    case 'RATE_LIMITED':
      holdOff(r.retryAfter ?? 10, 'Too many attempts in a short time. You can try again in ', ' (mm:ss).', code);
      break;
    case 'OVERLOADED':
      holdOff(r.retryAfter ?? 2, 'The shop is overloaded by a rush of shoppers. Please try again in ', ' (mm:ss).', code);
      break;
    case 'SALE_NOT_STARTED':
      showMessage(['This sale has not started yet. It opens in ', countdown(Date.parse(sale?.startsAt ?? Date.now())), '.'], { kind: 'info', code });
      void refreshSale(attempt.saleId);
      break;
    case 'SALE_ENDED':
      showMessage('This sale has ended: orders are no longer taken.', { code });
      void refreshSale(attempt.saleId);
      break;
    case 'SALE_CANCELLED':
      showMessage('This sale was cancelled: orders are no longer taken.', { code });
      void refreshSale(attempt.saleId);
      break;
    case 'UNAUTHENTICATED':
      endSession();
      promptSignIn('Your sign-in token was refused (expired, or not valid for this shop). Paste a fresh one above to buy.');
      break;
    case 'FORBIDDEN':
      showMessage(`This account may not buy here: ${message}`, { code });
      break;
    case 'IDEMPOTENCY_CONFLICT':
      showMessage('This attempt was already sent with another quantity. Press Buy again to start a new attempt.', { code });
      break;
    case 'VALIDATION_FAILED':
      showMessage(`Please check your order: ${message}`, { code });
      break;
    case 'SALE_NOT_FOUND':
      showMessage('This sale no longer exists.', { code });
      break;
    default:
      if (r.status >= 500) holdOff(r.retryAfter ?? 3, 'The shop is briefly unavailable. Please try again in ', ' (mm:ss).', code);
      else showMessage(`${message} (${code})`, { code });
  }
}

/* ================= purchases ================= */

function applyPurchase(update, via, { force = false } = {}) {
  const prev = state.purchases.get(update.purchaseId);
  const rank = (s) => RANK[s] ?? 1;
  if (prev && rank(update.status) < rank(prev.status)) return;
  const next = { ...prev, ...update };
  next.via = prev && prev.status === next.status ? prev.via : via;
  state.purchases.set(next.purchaseId, next);
  if (next.status !== 'queued' && next.status !== 'processing') stopPolling(next.purchaseId);
  if (force || !prev || prev.status !== next.status || prev.orderId !== next.orderId || prev.reason !== next.reason) renderPurchases();
}

/** Polling fallback: GET the statusUrl every second while queued; the socket usually wins. */
function startPolling(purchaseId) {
  if (state.polls.has(purchaseId)) return;
  const tick = async () => {
    const p = state.purchases.get(purchaseId);
    const token = state.token;
    if (!p || !token || (p.status !== 'queued' && p.status !== 'processing')) return void state.polls.delete(purchaseId);
    try {
      // The statusUrl the 202 gave; purchases learned from the list have none, so build the same path.
      const r = await api(p.statusUrl ?? `/api/purchases/${purchaseId}`, { token });
      if (r.ok) applyPurchase(r.data, 'poll');
      else if (r.status === 401) return void (state.polls.delete(purchaseId), endSession(), promptSignIn('Your sign-in token expired. Paste a fresh one to keep following your order.'));
      else if (r.status === 404) return void state.polls.delete(purchaseId);
    } catch {
      /* offline for a moment: try again next second */
    }
    const now = state.purchases.get(purchaseId);
    if (state.polls.has(purchaseId) && now && (now.status === 'queued' || now.status === 'processing')) {
      state.polls.set(purchaseId, setTimeout(() => void tick(), POLL_MS));
    } else {
      state.polls.delete(purchaseId);
    }
  };
  state.polls.set(purchaseId, setTimeout(() => void tick(), POLL_MS));
}

function stopPolling(purchaseId) {
  clearTimeout(state.polls.get(purchaseId));
  state.polls.delete(purchaseId);
}

async function refreshMyPurchases() {
  const token = state.token;
  if (!token) return;
  try {
    const r = await api('/api/me/purchases?limit=50', { token });
    if (token !== state.token) return;
    if (r.status === 401) {
      endSession();
      promptSignIn('Your sign-in token was refused (expired, or not valid for this shop). Paste a fresh one to buy.');
      return;
    }
    if (!r.ok) return;
    for (const p of r.data.items) {
      applyPurchase(p, 'fetch');
      if (p.status === 'queued' || p.status === 'processing') startPolling(p.purchaseId);
    }
    renderPurchases();
  } catch {
    /* keep what is shown; the next reconnect or refresh tries again */
  }
}

function saleName(saleId) {
  const sale = state.sales.get(saleId);
  if (sale) return sale.name;
  if (!state.saleFetches.has(saleId)) {
    state.saleFetches.set(
      saleId,
      api(`/api/sales/${saleId}`)
        .then((r) => {
          if (r.ok) {
            rememberSale(r.data);
            renderPurchases();
          }
        })
        .catch(() => undefined),
    );
  }
  return `Sale ${shortId(saleId)}`;
}

const REASONS = {
  SOLD_OUT: 'The last units went to other shoppers before your order was written.',
  LIMIT_EXCEEDED: 'This order would have taken you over the per-shopper limit.',
  SALE_CANCELLED: 'The sale was cancelled before your order was confirmed.',
  SALE_ENDED: 'The sale ended before your order was confirmed.',
  DUPLICATE_ATTEMPT: 'This attempt repeated one you had already made.',
  PROCESSING_FAILED: 'Something went wrong on our side; nothing was charged. Please try again.',
};

function describe(p) {
  const units = `${p.quantity ?? '?'} unit${Number(p.quantity) === 1 ? '' : 's'}`;
  switch (p.status) {
    case 'queued':
    case 'processing':
      return { icon: '', title: 'Queued', text: `You're in line for ${units}. Confirming your order with the shop…` };
    case 'confirmed':
      return { icon: '✓', title: 'Confirmed', text: `It's yours! ${units} reserved, your order is confirmed.` };
    case 'paid':
      return { icon: '✓', title: 'Paid', text: `Payment received for ${units}. Thank you!` };
    case 'rejected':
      return { icon: '!', title: 'Rejected', text: REASONS[p.reason] ?? `Your order was not confirmed (${p.reason ?? 'no reason given'}).` };
    case 'expired':
      return { icon: '!', title: 'Expired', text: 'The hold on your order ran out before payment.' };
    case 'cancelled':
      return { icon: '!', title: 'Cancelled', text: 'This order was cancelled.' };
    default:
      return { icon: '?', title: p.status, text: '' };
  }
}

/** The sale view's status box: the latest attempt made here, else this shopper's newest purchase of the sale. */
function renderPurchasePanel() {
  const d = state.detail;
  if (!d) return;
  let p = state.purchases.get(state.lastAttempt.get(d.saleId));
  if (!p) {
    for (const c of state.purchases.values()) {
      if (c.saleId === d.saleId && (!p || Date.parse(c.createdAt ?? 0) > Date.parse(p.createdAt ?? 0))) p = c;
    }
  }
  if (!p) {
    d.panel.replaceChildren();
    delete d.panel.dataset.status;
    return;
  }
  d.panel.dataset.status = p.status;
  d.panel.dataset.purchaseId = p.purchaseId;
  d.panel.dataset.via = p.via ?? '';
  const info = describe(p);
  const meta = [`Purchase ${shortId(p.purchaseId)}`, p.orderId ? `order ${shortId(p.orderId)}` : null, p.createdAt ? formatTime(p.createdAt) : null].filter(Boolean);
  d.panel.replaceChildren(
    h(
      'div',
      { class: 'purchase', 'data-status': p.status },
      h('span', { class: 'purchase-icon', 'aria-hidden': 'true' }, info.icon),
      h('div', {}, h('p', { class: 'purchase-title' }, info.title), h('p', { class: 'purchase-text' }, info.text), h('p', { class: 'purchase-meta' }, meta.join(' · '))),
    ),
  );
}

function renderMyPurchases() {
  els.myPurchases.hidden = !state.token;
  if (!state.token) return;
  const items = [...state.purchases.values()].sort((a, b) => Date.parse(b.createdAt ?? 0) - Date.parse(a.createdAt ?? 0)).slice(0, 30);
  els.purchaseEmpty.hidden = items.length > 0;
  els.purchaseList.replaceChildren(
    ...items.map((p) => {
      const detail = p.status === 'rejected' ? (p.reason ?? '').replace(/_/g, ' ').toLowerCase() : p.orderId ? `order ${shortId(p.orderId)}` : '';
      const meta = [`${p.quantity ?? '?'} × `, p.createdAt ? formatDateTime(p.createdAt) : '', detail ? ` · ${detail}` : ''].join('');
      return h(
        'li',
        { 'data-testid': 'my-purchase', 'data-purchase-id': p.purchaseId, 'data-status': p.status },
        h('a', { class: 'pl-name', href: `#sale=${p.saleId}` }, saleName(p.saleId)),
        badge(p.status),
        h('span', { class: 'pl-meta' }, meta),
      );
    }),
  );
}

function renderPurchases() {
  renderPurchasePanel();
  renderMyPurchases();
  updateBuyState();
}

/* ================= socket ================= */

function watchSales(ids) {
  const next = new Set(ids);
  const socket = state.socket;
  if (socket?.connected) {
    for (const id of next) if (!state.watched.has(id)) socket.emit('sale:watch', { saleId: id }, () => undefined);
    for (const id of state.watched) if (!next.has(id)) socket.emit('sale:unwatch', { saleId: id });
  }
  state.watched = next;
}

function connectSocket() {
  const socket = openSocket(state.token, {
    onState: (s) => showConnState(els.conn, s),
    onConnect: ({ reconnect }) => {
      // A new connection has no rooms: watch again. Pushes sent while away are lost: re-fetch.
      for (const id of state.watched) socket.emit('sale:watch', { saleId: id }, () => undefined);
      if (reconnect) void refreshMyPurchases();
    },
    onAuthError: () => {
      endSession();
      promptSignIn('Your sign-in token was refused (expired, or not valid for this shop). Paste a fresh one to buy.');
    },
  });
  if (!socket) return null;
  socket.on('purchase:update', (u) => {
    const known = state.purchases.has(u.purchaseId);
    applyPurchase(u, 'socket');
    if (!known) void refreshMyPurchases(); // bought in another tab: fetch its quantity and time
  });
  socket.on('sale:stock', ({ saleId, remaining }) => {
    const sale = state.sales.get(saleId);
    if (!sale || sale.remaining === remaining) return;
    sale.remaining = remaining;
    updateSaleDom(sale);
  });
  socket.on('sale:status', ({ saleId, status }) => {
    const sale = state.sales.get(saleId);
    if (!sale || sale.status === status) return;
    sale.status = status;
    updateSaleDom(sale);
  });
  return socket;
}

/* ================= session ================= */

function updateHeader() {
  const claims = state.token ? decodeToken(state.token) : null;
  els.who.hidden = !claims;
  els.signOut.hidden = !state.token;
  els.conn.hidden = !state.token;
  els.who.replaceChildren(...(claims ? ['Signed in as ', h('strong', {}, String(claims.sub))] : []));
}

function startSession() {
  state.socket?.close();
  state.token = store.get();
  updateHeader();
  if (!state.token) {
    els.signin.hidden = false;
    renderPurchases();
    return;
  }
  els.signin.hidden = true;
  els.signinError.hidden = true;
  state.socket = connectSocket();
  void refreshMyPurchases();
  renderPurchases();
}

function endSession() {
  state.socket?.close();
  state.socket = null;
  state.token = null;
  store.clear();
  for (const id of [...state.polls.keys()]) stopPolling(id);
  state.purchases.clear();
  state.lastAttempt.clear();
  updateHeader();
  els.signin.hidden = false;
  renderPurchases();
}

/** Shows the sign-in box with a reason, and the same reason where the shopper was about to buy. */
function promptSignIn(message) {
  els.signin.hidden = false;
  els.signinError.textContent = message;
  els.signinError.hidden = false;
  if (state.detail) {
    const go = h('button', { class: 'btn btn-sm', type: 'button', onclick: () => focusSignIn() }, 'Sign in');
    showMessage(message, { kind: 'warning', code: 'UNAUTHENTICATED', actions: [go] });
  }
  focusSignIn();
}

function focusSignIn() {
  els.signin.scrollIntoView({ block: 'nearest' });
  els.tokenInput.focus({ preventScroll: true });
}

els.signinForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = els.tokenInput.value.trim();
  const problem = tokenProblem(token);
  const fail = (msg) => {
    els.signinError.textContent = msg;
    els.signinError.hidden = false;
    els.tokenInput.setAttribute('aria-invalid', 'true');
  };
  if (problem) return fail(problem);
  const button = els.signinForm.querySelector('button');
  button.disabled = true;
  try {
    const r = await api('/api/me/purchases?limit=1', { token });
    if (r.status === 401) return fail('The shop refused this token: it is forged, expired, or signed with another secret.');
    if (!r.ok) return fail(`The token could not be checked (${r.error.code}). Try again.`);
  } catch {
    return fail('The shop cannot be reached right now. Check your connection and try again.');
  } finally {
    button.disabled = false;
  }
  els.tokenInput.value = '';
  els.tokenInput.removeAttribute('aria-invalid');
  store.set(token);
  startSession();
  if (state.detail?.error.dataset.code === 'UNAUTHENTICATED') clearMessage();
});

els.signOut.addEventListener('click', () => {
  endSession();
  els.signinError.hidden = true;
});

els.refreshPurchases.addEventListener('click', () => void refreshMyPurchases());

/* ================= start ================= */

takeTokenFromFragment(store);
startCountdowns();
startSession();
render();
