// The admin page: create products and sales, list sales, watch one sale live
// (stats polled every second, admissions/confirmations per second charted, stock over Socket.io).
import {
  api,
  badge,
  decodeToken,
  formatCount,
  formatDateTime,
  formatMoney,
  formatTime,
  h,
  NetworkError,
  openSocket,
  shortId,
  showConnState,
  takeTokenFromFragment,
  tokenProblem,
  tokenStore,
} from './common.js';

const store = tokenStore('flashsale.admin.token');
const byId = (id) => document.getElementById(id);
const els = {
  signin: byId('signin'),
  signinForm: byId('signin-form'),
  tokenInput: byId('admin-token-input'),
  signinError: byId('signin-error'),
  app: byId('app'),
  conn: byId('conn'),
  who: byId('who'),
  signOut: byId('sign-out'),
  productForm: byId('product-form'),
  saleForm: byId('sale-form'),
  productSelect: byId('s-product'),
  productOther: byId('s-product-other'),
  productHint: byId('s-product-hint'),
  live: byId('live'),
  salesBody: byId('sales-body'),
  salesCount: byId('sales-count'),
  salesEmpty: byId('sales-empty'),
  salesError: byId('sales-error'),
  salesFilter: byId('sales-filter'),
  salesMore: byId('sales-more'),
};

const POLL_MS = 1000;
const WINDOW_S = 60;
const OTHER = '__other__';
const PRODUCT_PAGE = 100; // the API's largest page
const MAX_PRODUCTS = 200;
const PAGE = 20;
const MAX_SALES = 200;

const state = {
  token: null,
  socket: null,
  products: [], // the newest MAX_PRODUCTS, from the API
  productsMore: false,
  productsError: null,
  productsLoading: false,
  productsSeq: 0,
  newProducts: new Map(), // created on this page, kept should a list load started before miss them
  autoPrice: '',
  sales: new Map(),
  created: new Map(), // sales created on this page: listed even when off the current page
  salesLimit: PAGE,
  salesSeq: 0,
  salesHasMore: false,
  salesTimer: undefined,
  live: null, // { saleId, seq, timer, samples, points, refs }
  liveSeq: 0,
};

/* ================= session ================= */

function updateHeader() {
  const claims = state.token ? decodeToken(state.token) : null;
  els.who.hidden = !claims;
  els.conn.hidden = !claims;
  els.signOut.hidden = !claims;
  els.who.replaceChildren(...(claims ? ['Signed in as ', h('strong', {}, String(claims.sub))] : []));
}

function showSignIn(message) {
  els.app.hidden = true;
  els.signin.hidden = false;
  els.signinError.hidden = !message;
  els.signinError.textContent = message ?? '';
  els.tokenInput.focus();
}

function startSession() {
  const token = store.get();
  const problem = token ? tokenProblem(token, { admin: true }) : null;
  if (!token || problem) {
    if (token) store.clear();
    state.token = null;
    updateHeader();
    showSignIn(problem);
    return;
  }
  state.token = token;
  updateHeader();
  els.signin.hidden = true;
  els.app.hidden = false;
  state.socket?.close();
  state.socket = connectSocket();
  resetSaleDefaults();
  void loadProducts();
  void loadSales();
  route();
}

function endSession(message) {
  stopLive();
  clearTimeout(state.salesTimer);
  state.salesSeq++;
  state.productsSeq++;
  state.socket?.close();
  state.socket = null;
  state.token = null;
  store.clear();
  updateHeader();
  showSignIn(message);
}

/** Any 401/403 from an admin route: the token is no good here any more. */
function authFailed(r) {
  endSession(
    r.status === 403
      ? 'This token is not an admin token. Sign in with one that has role "admin".'
      : 'Your admin token was refused (expired, or signed with another secret). Paste a fresh one.',
  );
}

els.signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = els.tokenInput.value.trim();
  const problem = tokenProblem(token, { admin: true });
  if (problem) {
    els.signinError.textContent = problem;
    els.signinError.hidden = false;
    els.tokenInput.setAttribute('aria-invalid', 'true');
    return;
  }
  els.tokenInput.value = '';
  els.tokenInput.removeAttribute('aria-invalid');
  store.set(token);
  startSession();
});

els.signOut.addEventListener('click', () => endSession());

/* ================= socket ================= */

function connectSocket() {
  const socket = openSocket(state.token, {
    onState: (s) => showConnState(els.conn, s),
    onConnect: () => {
      if (state.live) socket.emit('sale:watch', { saleId: state.live.saleId }, () => undefined);
    },
    onAuthError: () => endSession('Live updates refused your token. Paste a fresh admin token.'),
  });
  if (!socket) return null;
  socket.on('sale:stock', ({ saleId, remaining }) => {
    if (state.live?.saleId !== saleId) return;
    setStat('remaining-live', formatCount(remaining));
    state.live.refs.liveAt.textContent = `sale:stock at ${formatTime(new Date().toISOString())}`;
  });
  socket.on('sale:status', ({ saleId, status }) => saleChanged({ id: saleId, status }));
  return socket;
}

/* ================= forms ================= */

const toCents = (value) => Math.round(Number(value) * 100);
const pad = (n) => String(n).padStart(2, '0');
/** A Date as the value of an <input type="datetime-local"> (local time, minutes). */
const toLocalInput = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;

function resetSaleDefaults() {
  const now = new Date();
  els.saleForm.elements.startsAt.value = toLocalInput(now);
  els.saleForm.elements.endsAt.value = toLocalInput(new Date(now.getTime() + 3600_000));
}

/* ---------- the product picker: the newest products from the API ---------- */

/**
 * Loads the product picker from GET /api/admin/products, newest first, page by page up to
 * MAX_PRODUCTS. Past that cap (or when the list cannot be loaded) the picker also offers
 * pasting a product id, the only way left to reach an older product.
 */
async function loadProducts() {
  const seq = ++state.productsSeq;
  state.productsLoading = true;
  state.productsError = null;
  fillProducts();
  const found = new Map();
  let more = false;
  try {
    for (let offset = 0; offset < MAX_PRODUCTS; offset += PRODUCT_PAGE) {
      const limit = Math.min(PRODUCT_PAGE, MAX_PRODUCTS - offset);
      const r = await api(`/api/admin/products?limit=${limit}&offset=${offset}`, { token: state.token });
      if (seq !== state.productsSeq) return;
      if (r.status === 401 || r.status === 403) return authFailed(r);
      if (!r.ok) throw new Error(`${r.error.message} (${r.error.code})`);
      // A product created between two pages shifts the next one: keep the first sighting.
      for (const p of r.data.items) if (!found.has(p.id)) found.set(p.id, p);
      if (r.data.items.length < limit) break;
      if (offset + limit >= MAX_PRODUCTS) {
        const probe = await api(`/api/admin/products?limit=1&offset=${MAX_PRODUCTS}`, { token: state.token });
        if (seq !== state.productsSeq) return;
        more = !probe.ok || probe.data.items.length > 0;
      }
    }
    state.products = [...found.values()];
    state.productsMore = more;
  } catch (err) {
    if (seq !== state.productsSeq) return;
    state.productsError = err instanceof NetworkError ? 'the engine cannot be reached' : err.message;
  }
  state.productsLoading = false;
  fillProducts();
}

/** The loaded list, with the products created on this page since (they are the newest) in front. */
function productList() {
  const loaded = new Set(state.products.map((p) => p.id));
  return [...[...state.newProducts.values()].reverse().filter((p) => !loaded.has(p.id)), ...state.products];
}

const findProduct = (id) => productList().find((p) => p.id === id);

function fillProducts(selectId) {
  const sel = els.productSelect;
  const current = selectId ?? sel.value;
  const list = productList();
  const canPaste = state.productsMore || Boolean(state.productsError);
  let empty = null;
  if (!list.length) {
    empty = state.productsLoading ? 'Loading products…' : state.productsError ? 'Products could not be loaded' : 'Create a product first…';
  }
  sel.replaceChildren(
    ...(empty ? [h('option', { value: '' }, empty)] : []),
    ...list.map((p) => h('option', { value: p.id }, `${p.name} · ${p.sku} · ${formatMoney(p.priceCents)}`)),
    ...(canPaste ? [h('option', { value: OTHER }, 'Another product (paste its id)…')] : []),
  );
  if (current && [...sel.options].some((o) => o.value === current)) sel.value = current;
  els.productOther.hidden = sel.value !== OTHER;

  const hint = els.productHint;
  if (state.productsError) {
    hint.replaceChildren(
      `Products could not be loaded: ${state.productsError}. `,
      h('button', { class: 'btn-link', type: 'button', onclick: () => void loadProducts() }, 'Try again'),
    );
  } else if (state.productsMore) {
    hint.replaceChildren(`The newest ${MAX_PRODUCTS} products are listed; paste the id of an older one.`);
  } else {
    hint.replaceChildren();
  }
  hint.hidden = !hint.firstChild;
  suggestPrice(findProduct(sel.value));
}

/** Fills the sale price from the product, unless the admin typed a price of their own. */
function suggestPrice(p) {
  const price = els.saleForm.elements.price;
  if (!p || (price.value && price.value !== state.autoPrice)) return;
  price.value = (p.priceCents / 100).toFixed(2);
  state.autoPrice = price.value;
}

els.productSelect.addEventListener('change', () => {
  els.productOther.hidden = els.productSelect.value !== OTHER;
  suggestPrice(findProduct(els.productSelect.value));
  if (!els.productOther.hidden) els.productOther.focus();
});

function fieldError(form, name, message) {
  const input = form.elements[name];
  if (!input || typeof input.setAttribute !== 'function') return false;
  input.setAttribute('aria-invalid', 'true');
  const id = `${input.id}-error`;
  let el = byId(id);
  if (!el) {
    el = h('p', { id, class: 'field-error' });
    input.insertAdjacentElement('afterend', el);
    input.setAttribute('aria-describedby', id);
  }
  el.textContent = message;
  return true;
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  form.querySelector('.form-result').replaceChildren();
}

function formResult(form, kind, content, actions = []) {
  form.querySelector('.form-result').replaceChildren(h('div', { class: `msg msg-${kind}` }, h('span', { class: 'msg-text' }, ...[content].flat()), ...actions));
}

/** Puts the server's VALIDATION_FAILED details beside their fields; the rest goes in the form's message. */
function showRefusal(form, r, fieldFor) {
  if (r.status === 401 || r.status === 403) return authFailed(r);
  const details = Array.isArray(r.error.details) ? r.error.details : [];
  let placed = 0;
  for (const d of details) if (fieldError(form, fieldFor(d.path), d.message)) placed++;
  formResult(form, 'error', placed ? 'Please fix the highlighted fields.' : `${r.error.message} (${r.error.code})`);
  form.querySelector('[aria-invalid="true"]')?.focus();
}

async function submitForm(form, run) {
  clearErrors(form);
  if (!form.checkValidity()) {
    form.reportValidity();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    await run();
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    formResult(form, 'error', 'The engine cannot be reached. Nothing was created; try again.');
  } finally {
    button.disabled = false;
  }
}

els.productForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = els.productForm;
  void submitForm(form, async () => {
    const f = form.elements;
    const body = { sku: f.sku.value.trim(), name: f.name.value.trim(), priceCents: toCents(f.price.value) };
    if (f.description.value.trim()) body.description = f.description.value.trim();
    const r = await api('/api/admin/products', { method: 'POST', token: state.token, body });
    if (!r.ok) {
      if (r.error.code === 'SKU_TAKEN') {
        fieldError(form, 'sku', r.error.message);
        formResult(form, 'error', 'That SKU is taken.');
        return f.sku.focus();
      }
      return showRefusal(form, r, (path) => (path === 'priceCents' ? 'price' : path));
    }
    const p = r.data;
    state.newProducts.set(p.id, p);
    fillProducts(p.id);
    const sf = els.saleForm.elements;
    if (!sf.name.value) sf.name.value = `${p.name} drop`;
    form.reset();
    formResult(form, 'success', [`Product “${p.name}” created. It is selected in the sale form.`]);
  });
});

els.saleForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = els.saleForm;
  void submitForm(form, async () => {
    const f = form.elements;
    const productId = f.productId.value === OTHER ? els.productOther.value.trim() : f.productId.value;
    if (!productId) {
      fieldError(form, f.productId.value === OTHER ? 'productIdOther' : 'productId', f.productId.value === OTHER ? 'Paste a product id.' : 'Choose a product, or create one above.');
      return;
    }
    const body = {
      productId,
      name: f.name.value.trim(),
      startsAt: new Date(f.startsAt.value).toISOString(),
      endsAt: new Date(f.endsAt.value).toISOString(),
      stock: Number(f.stock.value),
      perUserLimit: Number(f.perUserLimit.value),
      priceCents: toCents(f.price.value),
    };
    const r = await api('/api/admin/sales', { method: 'POST', token: state.token, body });
    if (!r.ok) {
      if (r.error.code === 'PRODUCT_NOT_FOUND') return void fieldError(form, f.productId.value === OTHER ? 'productIdOther' : 'productId', r.error.message);
      return showRefusal(form, r, (path) => (path === 'priceCents' ? 'price' : path === 'productId' && f.productId.value === OTHER ? 'productIdOther' : path));
    }
    const sale = r.data;
    state.created.set(sale.id, sale);
    renderSalesTable();
    void loadSales();
    f.name.value = '';
    resetSaleDefaults();
    const watch = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'open-live', onclick: () => (location.hash = `sale=${sale.id}`) }, 'Watch live');
    formResult(form, 'success', `Sale “${sale.name}” created: ${formatCount(sale.stock)} units, ${sale.status === 'upcoming' ? 'opens' : 'opened'} ${formatDateTime(sale.startsAt)}.`, [watch]);
  });
});

/* ================= sales list ================= */

/**
 * Refreshes the sales table from GET /api/admin/sales (every 5 s): the first
 * `state.salesLimit` sales, newest first, page by page; one more than shown tells whether
 * "Show more" has anything to show.
 */
async function loadSales() {
  clearTimeout(state.salesTimer);
  const seq = ++state.salesSeq;
  const status = els.salesFilter.value;
  const want = state.salesLimit + 1;
  try {
    const found = new Map();
    for (let offset = 0; found.size < want; ) {
      const limit = Math.min(100, want - found.size);
      const q = new URLSearchParams({ limit: String(limit), offset: String(offset) });
      if (status) q.set('status', status);
      const r = await api(`/api/admin/sales?${q}`, { token: state.token });
      if (seq !== state.salesSeq) return;
      if (r.status === 401 || r.status === 403) return authFailed(r);
      if (!r.ok) throw new Error(`${r.error.message} (${r.error.code})`);
      for (const s of r.data.items) if (!found.has(s.id)) found.set(s.id, s);
      if (r.data.items.length < limit) break;
      offset += limit;
    }
    const items = [...found.values()];
    state.salesHasMore = items.length > state.salesLimit;
    state.sales = new Map(items.slice(0, state.salesLimit).map((s) => [s.id, s]));
    for (const s of state.sales.values()) if (state.created.has(s.id)) state.created.set(s.id, s);
    els.salesError.replaceChildren();
    renderSalesTable();
  } catch (err) {
    if (seq !== state.salesSeq) return;
    const text = err instanceof NetworkError ? 'The engine cannot be reached; retrying…' : `Sales could not be loaded: ${err.message}`;
    els.salesError.replaceChildren(h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, text)));
  }
  if (state.token && seq === state.salesSeq) state.salesTimer = setTimeout(() => void loadSales(), 5000);
}

/** A sale view the page learned of (an edit, a cancel, a refresh): everywhere it is shown. */
function saleChanged(sale) {
  if (state.sales.has(sale.id)) state.sales.set(sale.id, { ...state.sales.get(sale.id), ...sale });
  if (state.created.has(sale.id)) state.created.set(sale.id, { ...state.created.get(sale.id), ...sale });
  if (state.live?.saleId === sale.id) showLiveSale(sale);
  renderSalesTable();
}

els.salesFilter.addEventListener('change', () => {
  state.salesLimit = PAGE;
  void loadSales();
});

els.salesMore.addEventListener('click', () => {
  state.salesLimit = Math.min(MAX_SALES, state.salesLimit + PAGE);
  void loadSales();
});

const shortDate = (iso) => new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });
const shortTime = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
const sameDay = (a, b) => new Date(a).toDateString() === new Date(b).toDateString();

function renderSalesTable() {
  const filter = els.salesFilter.value;
  const all = new Map(state.sales);
  for (const [id, s] of state.created) if (!all.has(id) && (!filter || s.status === filter)) all.set(id, s);
  // Sales created here first (newest first), then the page, newest start first.
  const order = [...state.created.keys()].reverse();
  const rank = (s) => (state.created.has(s.id) ? order.indexOf(s.id) : Infinity);
  const sales = [...all.values()].sort((a, b) => rank(a) - rank(b) || Date.parse(b.startsAt) - Date.parse(a.startsAt));
  els.salesEmpty.hidden = sales.length > 0;
  els.salesMore.hidden = !state.salesHasMore || state.salesLimit >= MAX_SALES;
  els.salesCount.textContent = sales.length ? `${sales.length} shown` : '';
  // Rows are updated in place and only re-ordered when the order changed: focus stays put.
  const rows = sales.map((s) => saleRow(s));
  for (const id of rowsById.keys()) if (!all.has(id)) rowsById.delete(id);
  const current = [...els.salesBody.children];
  if (rows.length !== current.length || rows.some((r, i) => current[i] !== r)) els.salesBody.replaceChildren(...rows);
}

const rowsById = new Map();

function saleRow(s) {
  let row = rowsById.get(s.id);
  if (!row) {
    const cell = (cls) => h('td', cls ? { class: cls } : {});
    row = h(
      'tr',
      { 'data-testid': 'sale-row', 'data-sale-id': s.id },
      h('td', {}, h('div', { class: 'name' }), h('div', { class: 'sub' }, shortId(s.id))),
      cell(),
      cell('num'),
      cell('num'),
      cell('window'),
      h(
        'td',
        { class: 'num' },
        h(
          'button',
          { class: 'btn btn-sm', type: 'button', 'data-testid': 'watch-sale', onclick: () => (location.hash = `sale=${s.id}`) },
          'Watch live',
        ),
      ),
    );
    rowsById.set(s.id, row);
  }
  const key = JSON.stringify([s.name, s.status, s.remaining, s.stock, s.priceCents, s.startsAt, s.endsAt, state.created.has(s.id)]);
  if (row.dataset.key !== key) {
    row.dataset.key = key;
    const [name, status, left, price, span] = row.children;
    name.firstChild.replaceChildren(s.name, state.created.has(s.id) ? h('span', { class: 'new-tag' }, 'new') : '');
    status.replaceChildren(badge(s.status));
    left.textContent = `${formatCount(s.remaining)} / ${formatCount(s.stock)}`;
    price.textContent = formatMoney(s.priceCents);
    span.replaceChildren(
      h('div', {}, shortDate(s.startsAt)),
      h('div', { class: 'muted' }, `→ ${sameDay(s.startsAt, s.endsAt) ? shortTime(s.endsAt) : shortDate(s.endsAt)}`),
    );
    row.querySelector('button').setAttribute('aria-label', `Watch ${s.name} live`);
  }
  if (state.live?.saleId === s.id) row.setAttribute('aria-current', 'true');
  else row.removeAttribute('aria-current');
  return row;
}

/* ================= live view ================= */

function route() {
  if (!state.token) return;
  const id = new URLSearchParams(location.hash.slice(1)).get('sale');
  if (!id) return stopLive(true);
  if (state.live?.saleId === id.toLowerCase()) return;
  void openLive(id.toLowerCase());
}

window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) {
    takeTokenFromFragment(store);
    startSession();
    return;
  }
  route();
});

function stopLive(hide = false) {
  if (state.live) {
    clearTimeout(state.live.timer);
    state.socket?.emit('sale:unwatch', { saleId: state.live.saleId });
  }
  state.live = null;
  state.liveSeq++;
  if (hide) {
    els.live.hidden = true;
    els.live.replaceChildren();
    renderSalesTable();
  }
}

function stat(key, label, { sub, cls } = {}) {
  const value = h('span', { class: 'stat-value', 'data-testid': `stat-${key}` }, '–');
  const subEl = h('span', { class: 'stat-sub', 'data-testid': `stat-${key}-sub` }, sub ?? '');
  return { el: h('div', { class: `stat ${cls ?? ''}` }, h('span', { class: 'stat-label' }, label), value, subEl), value, sub: subEl };
}

function setStat(key, text) {
  const el = els.live.querySelector(`[data-testid="stat-${key}"]`);
  if (el && el.textContent !== text) el.textContent = text;
}

const saleSummary = (sale) =>
  [
    sale.startsAt ? `${formatDateTime(sale.startsAt)} → ${formatDateTime(sale.endsAt)}` : '',
    sale.priceCents ? `${formatMoney(sale.priceCents)} each` : '',
    sale.perUserLimit ? `limit ${sale.perUserLimit} per shopper` : '',
  ]
    .filter(Boolean)
    .join(' · ');

async function openLive(saleId) {
  stopLive();
  const seq = state.liveSeq;
  let sale = state.sales.get(saleId) ?? state.created.get(saleId);
  if (!sale) {
    try {
      const r = await api(`/api/admin/sales/${encodeURIComponent(saleId)}`, { token: state.token });
      if (seq !== state.liveSeq) return;
      if (r.status === 401 || r.status === 403) return authFailed(r);
      if (!r.ok) {
        const text = r.status === 404 ? `Sale ${saleId} was not found.` : `Sale ${saleId} could not be loaded: ${r.error.message} (${r.error.code})`;
        els.live.hidden = false;
        els.live.removeAttribute('data-sale-id');
        els.live.replaceChildren(h('div', { class: 'msg msg-error', role: 'alert' }, h('span', { class: 'msg-text' }, text)));
        return;
      }
      sale = r.data;
    } catch {
      if (seq !== state.liveSeq) return;
      sale = { id: saleId, name: `Sale ${shortId(saleId)}`, status: 'active', stock: 0, startsAt: null, endsAt: null, priceCents: 0, perUserLimit: 0 };
    }
  }

  const stats = {
    admitted: stat('admitted', 'Admitted', { sub: 'passed the Redis gate', cls: 'stat-accent' }),
    confirmed: stat('confirmed', 'Confirmed', { sub: 'written by the worker', cls: 'stat-ok' }),
    rejected: stat('rejected', 'Rejected'),
    redis: stat('remaining-redis', 'Left · Redis', { sub: 'the gate' }),
    postgres: stat('remaining-postgres', 'Left · PostgreSQL', { sub: 'authoritative' }),
    live: stat('remaining-live', 'Left · live', { sub: 'waiting for sale:stock' }),
    sold: stat('sold', 'Sold (paid)', { sub: `of ${formatCount(sale.stock)} in stock` }),
    held: stat('held', 'Held (unpaid)', { sub: 'confirmed, awaiting payment' }),
    orders: stat('orders', 'Orders'),
    queue: stat('queue', 'Queue jobs', { sub: 'all sales; a job holds the purchases admitted together' }),
    drift: stat('drift', 'Drift', { sub: 'Redis + pending − PostgreSQL' }),
  };
  const reasons = h('ul', { class: 'reasons', 'data-testid': 'rejected-reasons' });
  stats.rejected.sub.replaceWith(reasons);
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

  els.live.dataset.saleId = saleId;
  els.live.replaceChildren(
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
  els.live.hidden = false;

  state.live = {
    saleId,
    sale,
    saleVersion: 0,
    seq,
    timer: undefined,
    polls: 0,
    polling: false,
    pollAgain: false,
    busy: false,
    samples: [],
    peak: { admitted: 0, confirmed: 0 },
    refs: { stats, reasons, checks, chart, legendA, legendC, updated, error, badge: badgeSlot, title, summary, manage, liveAt: stats.live.sub },
  };
  showLiveSale(sale);
  renderSalesTable();
  drawChart();
  if (state.socket?.connected) state.socket.emit('sale:watch', { saleId }, () => undefined);
  title.focus({ preventScroll: true });
  els.live.scrollIntoView({ block: 'nearest' });
  void pollStats(seq);
}

/* ---------- managing the watched sale: add stock, extend, reconcile, cancel ---------- */

/** A labelled field and its submit button in one form; submitting runs `action` instead of navigating. */
function oneFieldForm(testId, label, field, button, action) {
  const onsubmit = (event) => {
    event.preventDefault();
    void action();
  };
  return h(
    'form',
    { class: 'manage-form', novalidate: true, 'data-testid': testId, onsubmit },
    h('label', { for: field.id }, label),
    h('div', { class: 'inline-field' }, field, button),
  );
}

function managePanel() {
  const units = h('input', {
    id: 'add-stock-units',
    name: 'units',
    type: 'number',
    min: '1',
    max: '10000000',
    step: '1',
    value: '10',
    required: true,
    inputmode: 'numeric',
    'data-testid': 'add-stock-units',
  });
  const addStockButton = h('button', { class: 'btn btn-sm', type: 'submit', 'data-testid': 'add-stock' }, 'Add stock');
  const addStock = oneFieldForm('add-stock-form', 'Units to add', units, addStockButton, addStockAction);
  const endsAt = h('input', { id: 'extend-end-at', name: 'endsAt', type: 'datetime-local', required: true, 'data-testid': 'extend-end-at' });
  const extendButton = h('button', { class: 'btn btn-sm', type: 'submit', 'data-testid': 'extend-end' }, 'Extend end');
  const extend = oneFieldForm('extend-end-form', 'New end', endsAt, extendButton, extendAction);
  const reconcile = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'reconcile-sale', onclick: () => void reconcileAction() }, 'Reconcile');
  const cancel = h(
    'button',
    { class: 'btn btn-sm btn-danger', type: 'button', 'data-testid': 'cancel-sale', 'aria-expanded': 'false', 'aria-controls': 'cancel-confirm', onclick: () => askCancel(true) },
    'Cancel sale',
  );
  const confirmText = h('span', { class: 'msg-text' });
  const confirmYes = h('button', { class: 'btn btn-sm btn-danger-solid', type: 'button', 'data-testid': 'confirm-cancel', onclick: () => void cancelAction() }, 'Yes, cancel the sale');
  const confirmNo = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'keep-sale', onclick: () => askCancel(false) }, 'Keep it running');
  const confirm = h(
    'div',
    { id: 'cancel-confirm', class: 'msg msg-warning confirm', role: 'group', 'aria-label': 'Confirm the cancellation', 'data-testid': 'cancel-confirm', hidden: true },
    confirmText,
    h('span', { class: 'form-actions' }, confirmYes, confirmNo),
  );
  const closedNote = h('p', { class: 'hint', 'data-testid': 'manage-closed', hidden: true });
  const result = h('div', { class: 'msg-region manage-result', role: 'status', 'aria-live': 'polite', 'data-testid': 'action-result' });
  const el = h(
    'section',
    { class: 'manage', 'aria-labelledby': 'manage-title', 'data-testid': 'manage' },
    h('h3', { id: 'manage-title' }, 'Manage this sale'),
    h('div', { class: 'manage-row' }, addStock, extend, h('div', { class: 'manage-buttons' }, reconcile, cancel)),
    closedNote,
    confirm,
    result,
  );
  return { el, units, addStockButton, endsAt, extendButton, reconcile, cancel, confirm, confirmText, confirmYes, confirmNo, closedNote, result };
}

/** Shows a (partial) sale view in the live view: header, badge, and which controls apply. */
function showLiveSale(update) {
  const live = state.live;
  if (!live) return;
  const sale = (live.sale = { ...live.sale, ...update });
  const { refs } = live;
  const m = refs.manage;
  if (refs.title.textContent !== sale.name) refs.title.textContent = sale.name;
  refs.summary.textContent = saleSummary(sale);
  if (refs.badge.dataset.status !== sale.status) {
    refs.badge.dataset.status = sale.status;
    refs.badge.replaceChildren(badge(sale.status));
  }
  // A cancelled or ended sale never changes again; reconciling stays possible.
  const closed = sale.status === 'cancelled' || sale.status === 'ended';
  for (const el of [m.units, m.addStockButton, m.endsAt, m.extendButton, m.cancel]) el.disabled = closed || live.busy;
  m.reconcile.disabled = live.busy;
  m.confirmYes.disabled = live.busy;
  m.closedNote.hidden = !closed;
  m.closedNote.textContent = sale.status === 'cancelled' ? 'This sale was cancelled: it can no longer change.' : 'This sale has ended: it can no longer change.';
  if (closed && !m.confirm.hidden) askCancel(false, { focus: false });
  // The end field proposes an hour more than the current end, until the end moves.
  if (sale.endsAt && m.endsAt.dataset.base !== sale.endsAt) {
    m.endsAt.dataset.base = sale.endsAt;
    m.endsAt.value = toLocalInput(new Date(Date.parse(sale.endsAt) + 3600_000));
  }
}

function askCancel(open, { focus = true } = {}) {
  const live = state.live;
  if (!live) return;
  const m = live.refs.manage;
  m.confirm.hidden = !open;
  m.cancel.setAttribute('aria-expanded', String(open));
  if (open) {
    m.confirmText.textContent = `Cancel “${live.sale.name}”? Admissions stop at once and purchases still queued are rejected; confirmed orders stand. This cannot be undone.`;
    if (focus) m.confirmNo.focus();
  } else if (focus && !m.cancel.disabled) {
    m.cancel.focus();
  }
}

/** Runs one action at a time; while it runs the controls are disabled. */
async function liveAction(work) {
  const live = state.live;
  if (!live || live.busy) return;
  live.busy = true;
  showLiveSale({});
  try {
    await work(live);
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    if (state.live === live) {
      actionResult(live, 'error', 'action-error', 'The engine cannot be reached, so the change may not have been made. The counters above tell; try again.');
    }
  } finally {
    live.busy = false;
    if (state.live === live) showLiveSale({});
  }
}

function actionResult(live, kind, testid, ...content) {
  const el = h('div', { class: `msg msg-${kind}`, 'data-testid': testid, tabindex: '-1' }, h('div', { class: 'msg-text' }, ...content));
  live.refs.manage.result.replaceChildren(el);
  return el;
}

/** A refusal, in the page: the engine's message and code, and when to retry if it said. */
function actionRefused(live, r, what) {
  if (r.status === 401 || r.status === 403) return authFailed(r);
  const retry = r.retryAfter !== undefined ? ` Try again in ${r.retryAfter} s.` : '';
  const el = actionResult(live, 'error', 'action-error', `${what} refused: ${r.error.message} (${r.error.code}).${retry}`);
  el.dataset.code = r.error.code;
  // The refusal may come from a change of status (ended, cancelled elsewhere): show it.
  void refreshSale(live);
}

/** The sale view a change answered with: everywhere it is shown, newer than any refresh in flight. */
function liveSaleChanged(live, sale) {
  live.saleVersion++;
  saleChanged(sale);
  pollSoon(live);
}

async function refreshSale(live) {
  const version = live.saleVersion;
  try {
    const r = await api(`/api/admin/sales/${live.saleId}`, { token: state.token });
    if (state.live !== live || live.saleVersion !== version) return;
    if (r.status === 401 || r.status === 403) return authFailed(r);
    if (r.ok) saleChanged(r.data);
  } catch {
    /* the stats poll reports a lost engine */
  }
}

const report = (rows) =>
  h('dl', { class: 'report' }, ...rows.map(([term, value, testid]) => [h('dt', {}, term), h('dd', testid ? { 'data-testid': testid } : {}, String(value))]));

async function addStockAction() {
  const m = state.live?.refs.manage;
  if (!m) return;
  if (!m.units.checkValidity()) return void m.units.reportValidity();
  const n = Number(m.units.value);
  await liveAction(async (live) => {
    // Stock is absolute in the API: read the current stock just before adding to it.
    const current = await api(`/api/admin/sales/${live.saleId}`, { token: state.token });
    if (state.live !== live) return;
    if (!current.ok) return actionRefused(live, current, 'Adding stock');
    const from = current.data.stock;
    const r = await api(`/api/admin/sales/${live.saleId}`, { method: 'PATCH', token: state.token, body: { stock: from + n } });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Adding stock');
    liveSaleChanged(live, r.data);
    actionResult(
      live,
      'success',
      'stock-added',
      `Added ${formatCount(n)} ${n === 1 ? 'unit' : 'units'}: stock ${formatCount(from)} → ${formatCount(r.data.stock)}, ${formatCount(r.data.remaining)} left.`,
    );
  });
}

async function extendAction() {
  const m = state.live?.refs.manage;
  if (!m) return;
  if (!m.endsAt.checkValidity()) return void m.endsAt.reportValidity();
  const endsAt = new Date(m.endsAt.value);
  await liveAction(async (live) => {
    const r = await api(`/api/admin/sales/${live.saleId}`, { method: 'PATCH', token: state.token, body: { endsAt: endsAt.toISOString() } });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Changing the end');
    liveSaleChanged(live, r.data);
    actionResult(live, 'success', 'end-extended', `The sale now ends ${formatDateTime(r.data.endsAt)}.`);
  });
}

async function reconcileAction() {
  await liveAction(async (live) => {
    const r = await api(`/api/admin/sales/${live.saleId}/reconcile`, { method: 'POST', token: state.token });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Reconciling');
    const x = r.data;
    pollSoon(live);
    const verdict =
      x.drift === null ? 'Redis had lost the sale; its gate was rebuilt from PostgreSQL.' : x.drift === 0 ? 'Redis agreed with PostgreSQL.' : `Redis was off by ${x.drift}; corrected.`;
    actionResult(
      live,
      'info',
      'reconcile-report',
      h('strong', {}, `Reconciled at ${formatTime(new Date().toISOString())}. `),
      verdict,
      report([
        ['Left · Redis', `${x.before.redisRemaining === null ? 'missing' : formatCount(x.before.redisRemaining)} → ${formatCount(x.after.redisRemaining)}`],
        ['Left · PostgreSQL', `${formatCount(x.before.pgRemaining)} → ${formatCount(x.after.pgRemaining)}`],
        ['Stock · sold · held', `${formatCount(x.stock)} · ${formatCount(x.sold)} · ${formatCount(x.held)}`],
        ['In flight', `${formatCount(x.inflight.purchases)} purchases (${formatCount(x.inflight.units)} units)`],
        ['Settled in the gate', formatCount(x.settled)],
        ['Orphans rejected', formatCount(x.orphansRejected)],
        ['Drift', x.drift === null ? '–' : formatCount(x.drift), 'reconcile-drift'],
      ]),
    );
  });
}

async function cancelAction() {
  await liveAction(async (live) => {
    askCancel(false, { focus: false });
    const r = await api(`/api/admin/sales/${live.saleId}/cancel`, { method: 'POST', token: state.token });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Cancelling');
    const { cancelledAt, confirmedOrders, unitsSold, queuedAtCancel, ...view } = r.data;
    liveSaleChanged(live, view);
    const el = actionResult(
      live,
      'warning',
      'cancel-report',
      h('strong', {}, `Sale cancelled at ${formatTime(cancelledAt)}. `),
      'Admissions are closed; confirmed orders stand.',
      report([
        ['Confirmed orders', formatCount(confirmedOrders), 'cancel-orders'],
        ['Units sold or held', formatCount(unitsSold), 'cancel-units'],
        ['Queued at the cancel (rejected)', formatCount(queuedAtCancel), 'cancel-queued'],
        ['Units left unsold', formatCount(view.remaining)],
      ]),
    );
    el.focus({ preventScroll: true });
  });
}

/* ---------- stats ---------- */

/** Polls now rather than at the next tick (after a change), never running two polls at once. */
function pollSoon(live) {
  if (state.live !== live) return;
  if (live.polling) {
    live.pollAgain = true;
    return;
  }
  clearTimeout(live.timer);
  void pollStats(live.seq);
}

async function pollStats(seq) {
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
      applyStats(r.data);
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

function applyStats(s) {
  const live = state.live;
  const { refs } = live;
  const rejectedTotal = Object.values(s.rejected ?? {}).reduce((a, b) => a + Number(b), 0);
  setStat('admitted', formatCount(s.admitted));
  setStat('confirmed', formatCount(s.confirmed));
  setStat('rejected', formatCount(rejectedTotal));
  setStat('remaining-redis', formatCount(s.remaining.redis));
  setStat('remaining-postgres', formatCount(s.remaining.postgres));
  setStat('sold', formatCount(s.sold));
  setStat('held', formatCount(s.held));
  setStat('orders', formatCount(s.orders));
  const depth = s.queue.waiting + s.queue.active + s.queue.delayed;
  setStat('queue', formatCount(depth));
  refs.stats.queue.sub.textContent = `waiting ${s.queue.waiting} · active ${s.queue.active} · delayed ${s.queue.delayed} · failed ${s.queue.failed}`;
  refs.stats.sold.sub.textContent = `of ${formatCount(s.stock)} in stock`;
  setStat('drift', s.drift === null ? '–' : `${s.drift > 0 ? '+' : ''}${formatCount(s.drift)}`);
  refs.stats.drift.el.dataset.warn = String(s.drift !== 0);
  refs.stats.drift.sub.textContent =
    s.drift === null ? 'Redis has no record of the sale' : s.drift === 0 ? 'Redis + pending = PostgreSQL' : 'Redis + pending ≠ PostgreSQL: reconcile';
  const reasons = Object.entries(s.rejected ?? {}).sort((a, b) => b[1] - a[1]);
  refs.reasons.replaceChildren(
    ...(reasons.length
      ? reasons.map(([reason, n]) => h('li', { 'data-reason': reason }, h('span', {}, reason.replace(/_/g, ' ').toLowerCase()), h('span', {}, formatCount(n))))
      : [h('li', {}, 'none')]),
  );

  const inFlight = depth > 0 || s.admitted > s.confirmed + rejectedTotal;
  const synced = s.remaining.redis === s.remaining.postgres;
  const check = (ok, text) => h('span', { class: 'check', 'data-ok': ok === null ? false : String(ok) }, `${ok ? '✓' : ok === null ? '…' : '✗'} ${text}`);
  refs.checks.replaceChildren(
    check(s.sold <= s.stock, `sold ${formatCount(s.sold)} ≤ stock ${formatCount(s.stock)}`),
    check(s.sold + s.held + s.remaining.postgres === s.stock, 'sold + held + left = stock'),
    check(synced ? true : inFlight ? null : false, synced ? 'Redis = PostgreSQL' : inFlight ? 'Redis ahead of PostgreSQL (settling)' : 'Redis ≠ PostgreSQL'),
  );

  const now = performance.now();
  const prev = live.samples.at(-1);
  const sample = { t: now, admitted: s.admitted, confirmed: s.confirmed, aRate: 0, cRate: 0 };
  if (prev) {
    const dt = Math.max(0.001, (now - prev.t) / 1000);
    sample.aRate = Math.max(0, s.admitted - prev.admitted) / dt;
    sample.cRate = Math.max(0, s.confirmed - prev.confirmed) / dt;
    live.peak.admitted = Math.max(live.peak.admitted, sample.aRate);
    live.peak.confirmed = Math.max(live.peak.confirmed, sample.cRate);
  }
  live.samples.push(sample);
  while (live.samples.length > 2 && live.samples[0].t < now - (WINDOW_S + 2) * 1000) live.samples.shift();
  refs.legendA.textContent = sample.aRate.toFixed(1);
  refs.legendC.textContent = sample.cRate.toFixed(1);
  refs.updated.textContent = `Updated ${formatTime(new Date().toISOString())} · stats polled every second`;
  drawChart();
}

/* ---------- chart: inline SVG ---------- */

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(v) {
  if (v <= 5) return 5;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}

function drawChart() {
  const live = state.live;
  if (!live) return;
  const W = 640;
  const H = 200;
  const pad = { l: 40, r: 10, t: 10, b: 22 };
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const now = live.samples.at(-1)?.t ?? performance.now();
  // The window grows with the history, from 10 s up to 60 s: a fresh view is not a sliver at the edge.
  const history = live.samples.length ? (now - live.samples[0].t) / 1000 : 0;
  const span = Math.min(WINDOW_S, Math.max(10, Math.ceil(history / 10) * 10));
  // The first poll is the baseline: its rates read 0, so a burst right after it still draws a line.
  const points = live.samples.filter((p) => p.t >= now - span * 1000);
  const max = niceMax(Math.max(0, ...points.map((p) => Math.max(p.aRate, p.cRate))));
  const x = (t) => pad.l + iw - ((now - t) / (span * 1000)) * iw;
  const y = (v) => pad.t + ih - (v / max) * ih;
  const line = (key) => points.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');

  const root = svg('svg', {
    class: 'live-chart',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'data-testid': 'live-chart',
    'data-points': Math.max(0, points.length - 1),
    'data-peak-admitted': live.peak.admitted.toFixed(2),
    'data-peak-confirmed': live.peak.confirmed.toFixed(2),
    'aria-label': `Admissions and confirmations per second over the last ${span} seconds. Now: ${(points.at(-1)?.aRate ?? 0).toFixed(1)} admitted and ${(points.at(-1)?.cRate ?? 0).toFixed(1)} confirmed per second; peak ${live.peak.admitted.toFixed(1)} admitted per second.`,
  });
  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f);
    root.append(svg('line', { class: 'grid-line', x1: pad.l, x2: W - pad.r, y1: yy, y2: yy }));
    root.append(svg('text', { class: 'axis-label', x: pad.l - 6, y: yy + 4, 'text-anchor': 'end' }, formatCount(Math.round(max * f * 10) / 10)));
  }
  for (const [secs, anchor] of [
    [span, 'start'],
    [span / 2, 'middle'],
    [0, 'end'],
  ]) {
    root.append(svg('text', { class: 'axis-label', x: x(now - secs * 1000), y: H - 6, 'text-anchor': anchor }, secs ? `−${secs}s` : 'now'));
  }
  if (points.length > 1) {
    const first = points[0];
    const last = points.at(-1);
    root.append(svg('polygon', { class: 'area-admitted', points: `${x(first.t)},${y(0)} ${line('aRate')} ${x(last.t)},${y(0)}` }));
    root.append(svg('polyline', { class: 'series-admitted', 'data-series': 'admitted', points: line('aRate') }));
    root.append(svg('polyline', { class: 'series-confirmed', 'data-series': 'confirmed', points: line('cRate') }));
    root.append(svg('circle', { class: 'dot-admitted', cx: x(last.t), cy: y(last.aRate), r: 3.5 }));
    root.append(svg('circle', { class: 'dot-confirmed', cx: x(last.t), cy: y(last.cRate), r: 3.5 }));
  } else {
    root.append(svg('text', { class: 'axis-label', x: pad.l + iw / 2, y: pad.t + ih / 2, 'text-anchor': 'middle' }, 'Collecting samples…'));
  }
  live.refs.chart.replaceChildren(root);
}

/* ================= start ================= */

takeTokenFromFragment(store);
startSession();
