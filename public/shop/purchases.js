// This shopper's purchases: learned from the attempt's 202, from GET /api/me/purchases, from
// `purchase:update` pushes and, while one is queued, from polling its statusUrl every second
// (the fallback when the socket is away). Every one of them is the whole purchase, with
// exactly the fields of its state, so the newest read replaces what was known. Shown in
// "My purchases"; sale.js shows the sale's own.
import { api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { countdown } from '../common/countdown.js';
import { badge, formatDateTime, formatWhen, shortId } from '../common/format.js';
import { payControls } from './pay.js';
import { knownSale, refreshSale, rememberSale } from './sales.js';
import { endSession, promptSignIn } from './session.js';
import { state, subscribe, update } from './state.js';

const POLL_MS = 1000;
/** After a hold's countdown ran out: ask this many times (once a second) until it reads expired or paid. */
const HOLD_POLLS = 30;
/** A purchase never moves back: a late poll answer cannot undo what the socket said. */
const RANK = { queued: 0, confirmed: 1, rejected: 1, paid: 2, expired: 2, cancelled: 2 };
/** The fields a state may carry (src/modules/purchases/view.ts): any change among them is shown. */
const FIELDS = ['status', 'quantity', 'orderId', 'holdExpiresAt', 'paidAt', 'reason', 'holdEndedAt'];
/** A hold that ended unpaid (ran out, or the shopper gave it up): its units went back on sale. */
const holdEnded = (status) => status === 'expired' || status === 'cancelled';

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

/**
 * Takes in a purchase read from `via` (http | poll | fetch | socket), unless it would move it
 * back. The read is the whole purchase: it replaces the one known (only the 202's statusUrl,
 * and who first told this status, are kept).
 */
export function applyPurchase(purchase, via, { force = false } = {}) {
  const prev = state.purchases.get(purchase.purchaseId);
  const rank = (s) => RANK[s] ?? 1;
  if (prev && rank(purchase.status) < rank(prev.status)) return;
  const next = { ...purchase, statusUrl: purchase.statusUrl ?? prev?.statusUrl, via: prev && prev.status === purchase.status ? prev.via : via };
  state.purchases.set(next.purchaseId, next);
  if (next.status !== 'queued' && next.status !== 'confirmed') stopPolling(next.purchaseId);
  // A hold ended: its units are on sale again; show the stock now (a push may not come without the socket).
  if (prev && !holdEnded(prev.status) && holdEnded(next.status) && knownSale(next.saleId)) void refreshSale(next.saleId);
  const changed = !prev || FIELDS.some((f) => prev[f] !== next[f]);
  if (force || changed) renderPurchases();
}

/** Reads one purchase again (a refusal says the page is behind: the hold ended, it was paid elsewhere). */
export async function rereadPurchase(purchaseId) {
  const token = state.token;
  try {
    const r = await api(`/api/purchases/${purchaseId}`, { token });
    if (r.ok && token === state.token) applyPurchase(r.data, 'poll');
  } catch {
    /* the socket or the next read tells */
  }
}

const pending = (s) => s === 'queued';

/**
 * Polling fallback: GET the statusUrl every second while queued (the socket usually wins), or,
 * with `hold`, while a confirmed purchase whose hold ran out has not yet read expired (or paid).
 */
export function startPolling(purchaseId, { hold = false } = {}) {
  if (polls.has(purchaseId)) return;
  let left = HOLD_POLLS;
  const waiting = (s) => (hold ? s === 'confirmed' && left-- > 0 : pending(s));
  const tick = async () => {
    const p = state.purchases.get(purchaseId);
    const token = state.token;
    if (!p || !token || !waiting(p.status)) return void polls.delete(purchaseId);
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
    if (polls.has(purchaseId) && now && (hold ? now.status === 'confirmed' : pending(now.status))) {
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
      if (p.status === 'queued') startPolling(p.purchaseId);
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

/** What a row of "My purchases" says after the badge: the state in words (a live countdown while reserved). */
function rowDetail(p) {
  const units = Number(p.quantity) === 1 ? 'the unit' : `the ${p.quantity ?? '?'} units`;
  switch (p.status) {
    case 'confirmed':
      return ['Reserved — pay within ', countdown(Date.parse(p.holdExpiresAt))];
    case 'paid':
      return [`Paid ${formatWhen(p.paidAt)} — it's yours`];
    case 'expired':
      return [`Hold ended ${formatWhen(p.holdEndedAt)}, unpaid: ${units} went back on sale`];
    case 'cancelled':
      return [`You gave this up ${formatWhen(p.holdEndedAt)}: ${units} went back on sale`];
    case 'rejected':
      return [`Not confirmed: ${(p.reason ?? '').replace(/_/g, ' ').toLowerCase()}`];
    case 'queued':
      return ['Confirming with the shop…'];
    default:
      return [];
  }
}

const ROW_BADGE = { confirmed: 'Reserved', cancelled: 'Given up' };

function renderMyPurchases() {
  els.myPurchases.hidden = !state.token;
  if (!state.token) return;
  const items = [...state.purchases.values()].sort((a, b) => Date.parse(b.createdAt ?? 0) - Date.parse(a.createdAt ?? 0)).slice(0, 30);
  els.purchaseEmpty.hidden = items.length > 0;
  els.purchaseList.replaceChildren(
    ...items.map((p) => {
      const meta = [`${p.quantity ?? '?'} × `, p.createdAt ? formatDateTime(p.createdAt) : '', p.orderId ? ` · order ${shortId(p.orderId)}` : ''].join('');
      const b = badge(p.status);
      if (ROW_BADGE[p.status]) b.textContent = ROW_BADGE[p.status];
      return h(
        'li',
        { 'data-testid': 'my-purchase', 'data-purchase-id': p.purchaseId, 'data-status': p.status, 'data-hold-purchase-id': p.status === 'confirmed' ? p.purchaseId : null },
        h('a', { class: 'pl-name', href: `#sale=${p.saleId}` }, saleName(p.saleId)),
        b,
        h('span', { class: 'pl-state', 'data-testid': 'my-purchase-state' }, ...rowDetail(p)),
        h('span', { class: 'pl-meta' }, meta),
        p.status === 'confirmed' ? payControls(p, { compact: true }) : null,
      );
    }),
  );
}

// A hold's countdown ran out (in the sale view's box or a row): read the purchase until it says expired.
document.addEventListener('countdown-done', (e) => {
  const el = e.target.closest('[data-hold-purchase-id]');
  if (el) startPolling(el.dataset.holdPurchaseId, { hold: true });
});

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
