// The Buy button of the open sale view: enabled or not (sending, paused, sale closed) and what
// it says, the notice above the form and the per-shopper limit under it. Refusals that ask to
// wait (Retry-After) pause it through holdOff().
import { countdown } from '../common/countdown.js';
import { showMessage } from './sale.js';
import { knownSale } from './sales.js';
import { state, subscribe } from './state.js';

const HELD = new Set(['queued', 'confirmed', 'paid']);

let sending = false;
let blockedUntil = 0;
let blockTimer;

/** Marks an attempt as in flight (or not); the caller calls updateBuyState() when it is ready to show it. */
export function setSending(on) {
  sending = on;
}

export const isSending = () => sending;

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

/** Units this shopper holds in the sale (queued, confirmed or paid). */
export function heldUnits(saleId) {
  let n = 0;
  for (const p of state.purchases.values()) if (p.saleId === saleId && HELD.has(p.status)) n += Number(p.quantity) || 0;
  return n;
}

export function updateBuyState() {
  const d = state.detail;
  if (!d) return;
  const sale = knownSale(d.saleId);
  const closed = sale.status === 'ended' || sale.status === 'cancelled';
  const waiting = blockedUntil > Date.now();
  d.buy.disabled = sending || closed || waiting;
  d.buy.setAttribute('aria-busy', String(sending));
  d.buy.textContent = sending
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

/** Pauses the Buy button for Retry-After seconds, with a live countdown in the message. */
export function holdOff(seconds, before, after, code) {
  const until = Date.now() + Math.max(1, seconds) * 1000;
  blockedUntil = until;
  clearTimeout(blockTimer);
  showMessage([before, countdown(until), after], { kind: 'warning', code });
  blockTimer = setTimeout(() => {
    updateBuyState();
    if (state.detail?.error.dataset.code === code) showMessage('You can try again now.', { kind: 'info', code: `${code}_OVER` });
  }, until - Date.now());
}

subscribe('detail', () => updateBuyState());
subscribe('sale', (sale) => {
  if (state.detail?.saleId === sale.id) updateBuyState();
});
subscribe('purchases', () => updateBuyState());
