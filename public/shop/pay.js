// Paying a confirmed (reserved) purchase through the simulated provider: the Pay controls shown
// in the sale view's status box and in "My purchases", and what each answer tells the shopper.
// A declined or timed-out payment leaves the purchase payable until its hold ends.
import { NetworkError, api } from '../common/api.js';
import { h } from '../common/dom.js';
import { formatMoney } from '../common/format.js';
import { applyPurchase, refreshMyPurchases } from './purchases.js';
import { knownSale } from './sales.js';
import { endSession, promptSignIn } from './session.js';
import { state, update } from './state.js';

/** The simulated provider's switch: the token decides the answer (see the README). */
const TOKENS = [
  ['tok_approve', 'Approve'],
  ['tok_decline', 'Decline'],
  ['tok_timeout', 'Time out'],
];

/** purchaseId -> { token, sending, msg: { kind, text } }: survives the re-renders of the boxes. */
const payments = new Map();

const payState = (id) => {
  if (!payments.has(id)) payments.set(id, { token: 'tok_approve', sending: false, msg: null });
  return payments.get(id);
};

const rerender = () => update({ purchases: state.purchases });

async function pay(p) {
  const ps = payState(p.purchaseId);
  if (ps.sending || !state.token) return;
  ps.sending = true;
  ps.msg = null;
  rerender();
  let r;
  try {
    r = await api(`/api/purchases/${p.purchaseId}/pay`, { method: 'POST', token: state.token, body: { paymentToken: ps.token } });
  } catch (err) {
    ps.sending = false;
    if (!(err instanceof NetworkError)) throw err;
    ps.msg = { kind: 'error', text: "We couldn't reach the shop (network problem). Nothing was charged twice: paying again is safe." };
    rerender();
    return;
  }
  ps.sending = false;
  if (r.ok) {
    ps.msg = null;
    applyPurchase(r.data, 'http', { force: true });
    return;
  }
  const { code, message } = r.error;
  switch (code) {
    case 'PAYMENT_DECLINED':
      ps.msg = { kind: 'error', code, text: 'Payment declined by the provider. Your unit is still reserved: try again before the timer runs out.' };
      break;
    case 'PAYMENT_TIMEOUT':
      ps.msg = { kind: 'warning', code, text: 'The payment provider did not answer in time. Nothing was charged; your unit is still reserved: try again.' };
      break;
    case 'PURCHASE_EXPIRED':
      ps.msg = null;
      applyPurchase({ ...p, status: 'expired', reason: 'HOLD_EXPIRED' }, 'http');
      void refreshMyPurchases();
      break;
    case 'UNAUTHENTICATED':
      endSession();
      promptSignIn('Your sign-in token was refused (expired, or not valid for this shop). Paste a fresh one to pay.');
      return;
    default:
      ps.msg = { kind: 'error', code, text: `${message} (${code})` };
      void refreshMyPurchases();
  }
  rerender();
}

/** The Pay controls for a confirmed purchase (`compact` for a row of "My purchases"). */
export function payControls(p, { compact = false } = {}) {
  const ps = payState(p.purchaseId);
  const sale = knownSale(p.saleId);
  const amount = sale ? ` ${formatMoney(sale.priceCents * (Number(p.quantity) || 1))}` : '';
  const select = h(
    'select',
    {
      class: 'pay-token',
      'aria-label': 'Simulated payment outcome',
      'data-testid': 'pay-token',
      disabled: ps.sending,
      onchange: (e) => void (ps.token = e.target.value),
    },
    ...TOKENS.map(([value, label]) => h('option', { value, selected: value === ps.token }, label)),
  );
  const button = h(
    'button',
    {
      class: `btn btn-primary${compact ? ' btn-sm' : ''}`,
      type: 'button',
      'data-testid': 'pay-button',
      disabled: ps.sending,
      'aria-busy': String(ps.sending),
      onclick: () => void pay(p),
    },
    ps.sending ? 'Paying…' : `Pay${amount}`,
  );
  return h(
    'div',
    { class: `pay${compact ? ' pay-compact' : ''}`, 'data-testid': 'pay-box' },
    h('div', { class: 'pay-row' }, button, h('label', { class: 'pay-sim' }, h('span', {}, 'Simulated payment:'), select)),
    ps.msg ? h('p', { class: `pay-msg pay-msg-${ps.msg.kind}`, role: 'alert', 'data-testid': 'pay-message', 'data-code': ps.msg.code ?? '' }, ps.msg.text) : null,
  );
}
