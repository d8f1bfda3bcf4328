// Paying a confirmed (reserved) purchase through the simulated provider, or giving it up
// (cancel.js): the controls shown in the sale view's status box and in "My purchases", and
// what each answer tells the shopper. A declined or timed-out payment leaves the purchase
// payable until its hold ends.
import { NetworkError, api } from '../common/api.js';
import { h } from '../common/dom.js';
import { formatMoney } from '../common/format.js';
import { giveUp } from './cancel.js';
import { applyPurchase, refreshMyPurchases, rereadPurchase } from './purchases.js';
import { knownSale } from './sales.js';
import { endSession, promptSignIn } from './session.js';
import { state, update } from './state.js';

/** The simulated provider's switch: the token decides the answer (see the README). */
const TOKENS = [
  ['tok_approve', 'Approve'],
  ['tok_decline', 'Decline'],
  ['tok_timeout', 'Time out'],
];

/**
 * purchaseId -> { token, busy: null | 'pay' | 'cancel', asking (the give-up question is open),
 * msg: { kind, code, text, testid } }: survives the re-renders of the boxes. One action at a time.
 */
const payments = new Map();

const payState = (id) => {
  if (!payments.has(id)) payments.set(id, { token: 'tok_approve', busy: null, asking: false, msg: null });
  return payments.get(id);
};

const rerender = () => update({ purchases: state.purchases });

async function pay(p) {
  const ps = payState(p.purchaseId);
  if (ps.busy || !state.token) return;
  ps.busy = 'pay';
  ps.asking = false;
  ps.msg = null;
  rerender();
  let r;
  try {
    r = await api(`/api/purchases/${p.purchaseId}/pay`, { method: 'POST', token: state.token, body: { paymentToken: ps.token } });
  } catch (err) {
    ps.busy = null;
    if (!(err instanceof NetworkError)) throw err;
    ps.msg = { kind: 'error', text: "We couldn't reach the shop (network problem). Nothing was charged twice: paying again is safe." };
    rerender();
    return;
  }
  ps.busy = null;
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
      // The hold ran out first: reading the purchase shows it ended (and when).
      ps.msg = { kind: 'error', code, text: 'Too late: the hold ended before the payment, so nothing was charged.' };
      void rereadPurchase(p.purchaseId);
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

/** The give-up question, asked in the box itself: the reserved unit is scarce, a slip of the finger should not lose it. */
function giveUpControls(p, ps) {
  const ask = (open) => {
    ps.asking = open;
    ps.msg = null;
    rerender();
  };
  if (!ps.asking || ps.busy === 'pay') {
    return h(
      'button',
      { class: 'btn btn-ghost btn-sm give-up', type: 'button', 'data-testid': 'cancel-button', disabled: Boolean(ps.busy), onclick: () => ask(true) },
      'Give it up',
    );
  }
  return h(
    'div',
    { class: 'give-up-ask', role: 'group', 'aria-label': 'Give up this reservation?', 'data-testid': 'cancel-confirm' },
    h('span', {}, 'Give up your reservation? The unit goes back on sale for other shoppers.'),
    h(
      'span',
      { class: 'give-up-buttons' },
      h(
        'button',
        { class: 'btn btn-sm', type: 'button', 'data-testid': 'confirm-cancel', disabled: Boolean(ps.busy), 'aria-busy': String(ps.busy === 'cancel'), onclick: () => void giveUp(p, ps, rerender) },
        ps.busy === 'cancel' ? 'Giving it up…' : 'Yes, give it up',
      ),
      h('button', { class: 'btn btn-ghost btn-sm', type: 'button', 'data-testid': 'keep-hold', disabled: Boolean(ps.busy), onclick: () => ask(false) }, 'Keep it'),
    ),
  );
}

/** The Pay and give-up controls for a confirmed purchase (`compact` for a row of "My purchases"). */
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
      disabled: Boolean(ps.busy),
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
      disabled: Boolean(ps.busy),
      'aria-busy': String(ps.busy === 'pay'),
      onclick: () => void pay(p),
    },
    ps.busy === 'pay' ? 'Paying…' : `Pay${amount}`,
  );
  const giveUpPart = giveUpControls(p, ps);
  const asking = giveUpPart.tagName !== 'BUTTON';
  return h(
    'div',
    { class: `pay${compact ? ' pay-compact' : ''}`, 'data-testid': 'pay-box' },
    h('div', { class: 'pay-row' }, button, asking ? null : giveUpPart, h('label', { class: 'pay-sim' }, h('span', {}, 'Simulated payment:'), select)),
    asking ? giveUpPart : null,
    ps.msg
      ? h('p', { class: `pay-msg pay-msg-${ps.msg.kind}`, role: 'alert', 'data-testid': ps.msg.testid ?? 'pay-message', 'data-code': ps.msg.code ?? '' }, ps.msg.text)
      : null,
  );
}
