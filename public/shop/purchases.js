// This shopper's purchases: learned from the attempt's 202, from GET /api/me/purchases, from
// `purchase:update` pushes and, while one is queued, from polling its statusUrl every second
// (the fallback when the socket is away). Shown in "My purchases"; sale.js shows the sale's own.
import { api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { badge, formatDateTime, shortId } from '../common/format.js';
import { knownSale, rememberSale } from './sales.js';
import { endSession, promptSignIn } from './session.js';
import { state, subscribe, update } from './state.js';

const POLL_MS = 1000;
/** A purchase never moves back: a late poll answer cannot undo what the socket said. */
const RANK = { queued: 0, processing: 0, confirmed: 1, rejected: 1, paid: 2, expired: 2, cancelled: 2 };

const els = {
  myPurchases: byId('my-purchases'),
  purchaseList: byId('purchase-list'),
  purchaseEmpty: byId('purchase-empty'),
  refreshPurchases: byId('refresh-purchases'),
};
const polls = new Map(); // purchaseId -> timer
const saleFetches = new Map(); // saleId -> in-flight GET (names for "My purchases")

/** Everything showing purchases (the sale view's box, "My purchases", the Buy button) shows them again. */
const renderPurchases = () => update({ purchases: state.purchases });

/** Takes in a purchase's status from `via` (http | poll | fetch | socket), unless it would move it back. */
export function applyPurchase(change, via, { force = false } = {}) {
  const prev = state.purchases.get(change.purchaseId);
  const rank = (s) => RANK[s] ?? 1;
  if (prev && rank(change.status) < rank(prev.status)) return;
  const next = { ...prev, ...change };
  next.via = prev && prev.status === next.status ? prev.via : via;
  state.purchases.set(next.purchaseId, next);
  if (next.status !== 'queued' && next.status !== 'processing') stopPolling(next.purchaseId);
  if (force || !prev || prev.status !== next.status || prev.orderId !== next.orderId || prev.reason !== next.reason) renderPurchases();
}

/** Polling fallback: GET the statusUrl every second while queued; the socket usually wins. */
export function startPolling(purchaseId) {
  if (polls.has(purchaseId)) return;
  const tick = async () => {
    const p = state.purchases.get(purchaseId);
    const token = state.token;
    if (!p || !token || (p.status !== 'queued' && p.status !== 'processing')) return void polls.delete(purchaseId);
    try {
      // The statusUrl the 202 gave; purchases learned from the list have none, so build the same path.
      const r = await api(p.statusUrl ?? `/api/purchases/${purchaseId}`, { token });
      if (r.ok) applyPurchase(r.data, 'poll');
      else if (r.status === 401) return void (polls.delete(purchaseId), endSession(), promptSignIn('Your sign-in token expired. Paste a fresh one to keep following your order.'));
      else if (r.status === 404) return void polls.delete(purchaseId);
    } catch {
      /* offline for a moment: try again next second */
    }
    const now = state.purchases.get(purchaseId);
    if (polls.has(purchaseId) && now && (now.status === 'queued' || now.status === 'processing')) {
      polls.set(purchaseId, setTimeout(() => void tick(), POLL_MS));
    } else {
      polls.delete(purchaseId);
    }
  };
  polls.set(purchaseId, setTimeout(() => void tick(), POLL_MS));
}

function stopPolling(purchaseId) {
  clearTimeout(polls.get(purchaseId));
  polls.delete(purchaseId);
}

export async function refreshMyPurchases() {
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
  const sale = knownSale(saleId);
  if (sale) return sale.name;
  if (!saleFetches.has(saleId)) {
    saleFetches.set(
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

// Signed in: read them. Signed out: forget them (and this page's attempts), stop polling.
subscribe('token', (token) => {
  if (token) {
    void refreshMyPurchases();
  } else {
    for (const id of [...polls.keys()]) stopPolling(id);
    state.purchases.clear();
    state.lastAttempt.clear();
  }
  renderPurchases();
});
subscribe('purchases', renderMyPurchases);

els.refreshPurchases.addEventListener('click', () => void refreshMyPurchases());
