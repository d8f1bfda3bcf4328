// The sale view (#sale=<id>): the sale's stock and window, the buy form (wired by buy.js), the
// message box under it and the status of this shopper's latest purchase of the sale.
import { api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { badge, formatDateTime, formatMoney, formatTime, formatWhen, shortId } from '../common/format.js';
import { countdown } from '../common/countdown.js';
import { payControls } from './pay.js';
import { render } from './route.js';
import { fillSale, meter, rememberSale, whenLine } from './sales.js';
import { state, subscribe, update } from './state.js';

const view = byId('view');

const REASONS = {
  SOLD_OUT: 'The last units went to other shoppers before your order was written.',
  LIMIT_EXCEEDED: 'This order would have taken you over the per-shopper limit.',
  SALE_CANCELLED: 'The sale was cancelled before your order was confirmed.',
  SALE_ENDED: 'The sale ended before your order was confirmed.',
  DUPLICATE_ATTEMPT: 'This attempt repeated one you had already made.',
  PROCESSING_FAILED: 'Something went wrong on our side; nothing was charged. Please try again.',
};

async function renderSale(id, seq, focus) {
  const back = h('a', { class: 'back', href: '#' }, '← All sales');
  view.replaceChildren(back, h('div', { class: 'card muted', role: 'status' }, 'Loading sale…'));
  let r;
  try {
    r = await api(`/api/sales/${encodeURIComponent(id)}`);
  } catch {
    if (seq !== state.route.seq) return;
    const retry = h('button', { class: 'btn btn-sm', type: 'button', onclick: () => render() }, 'Retry');
    view.replaceChildren(back, h('div', { 'data-testid': 'error-message', role: 'alert' }, h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, 'The shop cannot be reached right now.'), retry)));
    return;
  }
  if (seq !== state.route.seq) return;
  if (!r.ok) {
    const text = r.status === 404 ? 'This sale does not exist (or no longer exists).' : `This sale could not be loaded (${r.error.code}).`;
    view.replaceChildren(back, h('div', { 'data-testid': 'error-message', role: 'alert' }, h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, text))));
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

  const article = h(
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
  article.dataset.status = sale.status;
  view.replaceChildren(back, article);
  fillSale(article, sale);
  // buy.js wires the form and sets the button; then the purchases are shown again (the panel too).
  update({ detail: { saleId: sale.id, view: article, form, qty, qtyHint, buy, notice, error, panel, pending: null } });
  update({ purchases: state.purchases });
  update({ watched: new Set([sale.id]) });
  if (focus) title.focus();
}

/** Shows a message in the sale view (kind: error | warning | info | success), with optional buttons. */
export function showMessage(content, { kind = 'error', code, actions = [] } = {}) {
  const d = state.detail;
  if (!d) return;
  d.error.dataset.code = code ?? '';
  d.error.replaceChildren(h('div', { class: `msg msg-${kind}` }, h('span', { class: 'msg-text' }, ...[content].flat()), ...actions));
}

export function clearMessage() {
  if (!state.detail) return;
  state.detail.error.dataset.code = '';
  state.detail.error.replaceChildren();
}

function describe(p) {
  const one = Number(p.quantity) === 1;
  const units = `${p.quantity ?? '?'} unit${one ? '' : 's'}`;
  const them = one ? 'the unit' : `the ${units}`;
  switch (p.status) {
    case 'queued':
      return { icon: '', title: 'Queued', text: `You're in line for ${units}. Confirming your order with the shop…` };
    case 'confirmed':
      return {
        icon: '$',
        title: ['Reserved — pay within ', countdown(Date.parse(p.holdExpiresAt))],
        text: `${units} held for you. Pay before the timer runs out, or ${one ? 'it goes' : 'they go'} back on sale.`,
      };
    case 'paid':
      return { icon: '✓', title: "Paid — it's yours", text: `You bought ${units}: payment received ${formatWhen(p.paidAt)}. Thank you!` };
    case 'rejected':
      return { icon: '!', title: 'Rejected', text: REASONS[p.reason] ?? `Your order was not confirmed (${p.reason ?? 'no reason given'}).` };
    case 'expired':
      return {
        icon: '!',
        title: 'Hold ended — not paid',
        text: `The hold ran out ${formatWhen(p.holdEndedAt)} before payment, so ${them} went back on sale. Nothing was charged.`,
      };
    case 'cancelled':
      return {
        icon: '↩',
        title: 'You gave this up',
        text: `You let the hold go ${formatWhen(p.holdEndedAt)}: ${them} went back on sale for other shoppers. Nothing was charged.`,
      };
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
      { class: 'purchase', 'data-status': p.status, 'data-hold-purchase-id': p.status === 'confirmed' ? p.purchaseId : null },
      h('span', { class: 'purchase-icon', 'aria-hidden': 'true' }, info.icon),
      h(
        'div',
        { class: 'purchase-body' },
        h('p', { class: 'purchase-title' }, info.title),
        h('p', { class: 'purchase-text' }, info.text),
        h('p', { class: 'purchase-meta' }, meta.join(' · ')),
        p.status === 'confirmed' ? payControls(p) : null,
      ),
    ),
  );
}

subscribe('route', ({ name, id, seq, focus }) => {
  update({ detail: null });
  if (name === 'sale') void renderSale(id, seq, focus);
});
subscribe('purchases', renderPurchasePanel);
