// Buying from the open sale view or from a sale card of the list (one unit): the attempt (one
// Idempotency-Key per click, retried with the same key after a network error) and what each
// refusal tells the shopper, in the place the click came from (its `target`). The sale view's
// button state (sending, paused, closed) is buy-button.js's.
import { NetworkError, api, newIdempotencyKey, sleep } from '../common/api.js';
import { passFor } from './line.js';
import { countdown } from '../common/countdown.js';
import { h } from '../common/dom.js';
import { formatCount } from '../common/format.js';
import { heldUnits, holdOff, isSending, setSending, updateBuyState } from './buy-button.js';
import { applyPurchase, refreshMyPurchases, startPolling } from './purchases.js';
import { clearMessage, showMessage } from './sale.js';
import { knownSale, refreshSale } from './sales.js';
import { endSession, promptSignIn } from './session.js';
import { state, subscribe } from './state.js';

async function onBuy(event) {
  event.preventDefault();
  const d = state.detail;
  if (!d || isSending()) return;
  const sale = knownSale(d.saleId);
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
  await send({ key: newIdempotencyKey(), saleId: sale.id, quantity, target: detailTarget(sale.id) });
}

/** Where the sale view's attempts speak: its message box and its Buy button. */
function detailTarget(saleId) {
  return {
    alive: () => state.detail?.saleId === saleId,
    show: showMessage,
    clear: clearMessage,
    busy: (on) => {
      setSending(on);
      updateBuyState();
    },
    isBusy: isSending,
    holdOff,
  };
}

/** Where a sale card's attempts speak: the card's message line and its Buy button. */
function cardTarget(card) {
  const button = card.querySelector('[data-testid="card-buy-button"]');
  const region = card.querySelector('[data-field="buy-msg"]');
  const show = (content, { kind = 'error', code, actions = [] } = {}) => {
    region.dataset.code = code ?? '';
    region.replaceChildren(h('div', { class: `msg msg-${kind}` }, h('span', { class: 'msg-text' }, ...[content].flat()), ...actions));
  };
  let waitUntil = 0;
  return {
    alive: () => card.isConnected,
    show,
    clear: () => region.replaceChildren(),
    busy: (on) => {
      button.disabled = on || waitUntil > Date.now();
      button.setAttribute('aria-busy', String(on));
      button.textContent = on ? 'Sending…' : 'Buy 1';
    },
    isBusy: () => button.getAttribute('aria-busy') === 'true',
    holdOff: (seconds, before, after, code) => {
      const ms = Math.max(1, seconds) * 1000;
      waitUntil = Date.now() + ms;
      button.disabled = true;
      show([before, countdown(waitUntil), after], { kind: 'warning', code });
      setTimeout(() => {
        button.disabled = false;
      }, ms);
    },
  };
}

/** A sale card's Buy button: one unit, the same attempt as the sale view's. */
export async function buyFromCard(card, saleId) {
  const target = card.__buyTarget ?? (card.__buyTarget = cardTarget(card));
  if (target.isBusy()) return;
  target.clear();
  if (!state.token) {
    promptSignIn('Sign in to buy: paste your shopper token in the box above.');
    return;
  }
  await send({ key: newIdempotencyKey(), saleId, quantity: 1, target });
}

/** POSTs the attempt; on a network error retries twice with the same key, then offers a Retry button. */
async function post(attempt) {
  for (let i = 0; ; i++) {
    try {
      return await api(`/api/sales/${attempt.saleId}/purchases`, {
        method: 'POST',
        token: state.token,
        // A sale with a waiting room: the pass of this shopper's turn (line.js), if any.
        headers: { 'Idempotency-Key': attempt.key, ...(passFor(attempt.saleId) ? { 'Sale-Pass': passFor(attempt.saleId) } : {}) },
        body: { quantity: attempt.quantity },
      });
    } catch (err) {
      if (!(err instanceof NetworkError) || i >= 2) throw err;
      await sleep(400 * 3 ** i);
    }
  }
}

async function send(attempt) {
  const t = attempt.target;
  t.busy(true);
  let r;
  try {
    r = await post(attempt);
  } catch (err) {
    t.busy(false);
    if (!(err instanceof NetworkError)) throw err;
    if (t.alive()) {
      const retry = h(
        'button',
        { class: 'btn btn-sm', type: 'button', 'data-testid': 'retry-button', onclick: () => void (t.clear(), send(attempt)) },
        'Retry',
      );
      t.show("We couldn't reach the shop (network problem). Retry sends the very same request again, so it can never buy twice.", {
        code: 'NETWORK',
        actions: [retry],
      });
    }
    return;
  }
  if (r.ok) {
    // The purchase as it stands (queued, or already decided for a keyed retry), and its statusUrl.
    const p = r.data;
    state.lastAttempt.set(p.saleId, p.purchaseId);
    applyPurchase(p, 'http', { force: true });
    if (p.status === 'queued') startPolling(p.purchaseId);
    if (t.show !== showMessage && t.alive()) {
      t.show('Order sent: its status and the Pay button are under "My purchases" below.', { kind: 'success', code: 'SENT' });
    }
  } else {
    onRefused(r, attempt);
  }
  t.busy(false);
}

function onRefused(r, attempt) {
  const { code, message } = r.error;
  const sale = knownSale(attempt.saleId);
  const t = attempt.target;
  const showMessage = t.show;
  const holdOff = t.holdOff;
  if (!t.alive() && code !== 'UNAUTHENTICATED') return;
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

// A new sale view: its form buys. (buy-button.js sets the button.)
subscribe('detail', (d) => {
  if (!d) return;
  d.form.addEventListener('submit', onBuy);
  d.qty.addEventListener('input', () => d.qty.removeAttribute('aria-invalid'));
});
