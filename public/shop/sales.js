// The sales the page knows (from the list, a sale view or "My purchases") and the elements that
// show them: both views mark a sale's root with data-sale-id and its live parts with data-field,
// so a refresh or a push updates every copy in place.
import { api } from '../common/api.js';
import { countdown } from '../common/countdown.js';
import { h } from '../common/dom.js';
import { badge, formatCount, formatDateTime } from '../common/format.js';
import { update } from './state.js';

const sales = new Map(); // id -> sale resource (remaining/status kept live)

export const knownSale = (id) => sales.get(id);

/** Merges a sale read from the API into what the page knows; returns the merged sale. */
export function rememberSale(sale) {
  const prev = sales.get(sale.id);
  sales.set(sale.id, { ...prev, ...sale });
  return sales.get(sale.id);
}

export function whenLine(sale) {
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

export function meter() {
  return h('div', { class: 'meter', 'data-field': 'meter', 'aria-hidden': 'true' }, h('div', { class: 'meter-fill' }));
}

/** Updates every element showing `sale` (its card and/or its open view) in place. */
export function fillSale(root, sale) {
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

/** Shows a changed sale wherever it is on the page, then tells the `sale` subscribers (the Buy button). */
function updateSaleDom(sale) {
  for (const root of document.querySelectorAll(`[data-sale-id="${sale.id}"]`)) fillSale(root, sale);
  update({ sale });
}

/** A push (`sale:stock`, `sale:status`) about a sale the page knows: shown if it changes anything. */
export function applySalePush(saleId, changes) {
  const sale = sales.get(saleId);
  if (!sale || Object.entries(changes).every(([key, value]) => sale[key] === value)) return;
  Object.assign(sale, changes);
  updateSaleDom(sale);
}

/** Re-reads one sale (its countdown ran out, or a refusal says the page is stale). */
export async function refreshSale(id, attemptsLeft = 4) {
  try {
    const r = await api(`/api/sales/${id}`);
    if (!r.ok) return;
    const before = sales.get(id)?.status;
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
