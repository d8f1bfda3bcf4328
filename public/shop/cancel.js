// Giving up a reserved (confirmed, unpaid) purchase: POST /api/purchases/:id/cancel. The
// units go back on sale at once; the answer is the cancelled purchase. Each refusal is told
// in words in the purchase's own box (pay.js shows `hold.msg`).
import { NetworkError, api } from '../common/api.js';
import { applyPurchase, rereadPurchase } from './purchases.js';
import { endSession, promptSignIn } from './session.js';
import { state } from './state.js';

const msg = (kind, code, text) => ({ kind, code, text, testid: 'cancel-message' });

/** Cancels the hold of `p`; `hold` is its box's state ({ busy, asking, msg }), `rerender` shows it. */
export async function giveUp(p, hold, rerender) {
  if (hold.busy || !state.token) return;
  hold.busy = 'cancel';
  hold.msg = null;
  rerender();
  let r;
  try {
    r = await api(`/api/purchases/${p.purchaseId}/cancel`, { method: 'POST', token: state.token });
  } catch (err) {
    hold.busy = null;
    if (!(err instanceof NetworkError)) throw err;
    hold.msg = msg('error', 'NETWORK', "We couldn't reach the shop (network problem), so your unit is probably still reserved. Try again: giving it up twice is safe.");
    rerender();
    return;
  }
  hold.busy = null;
  hold.asking = false;
  if (r.ok) {
    applyPurchase(r.data, 'http', { force: true });
    return;
  }
  const { code, message } = r.error;
  switch (code) {
    case 'PURCHASE_NOT_CONFIRMED':
      hold.msg = msg('warning', code, 'Your order is still being confirmed. You can give it up once it shows as reserved.');
      break;
    case 'PURCHASE_EXPIRED':
      // The hold ran out first: the unit is already back on sale. Reading it shows the expired state.
      hold.msg = msg('warning', code, 'Too late to give it up: the hold had already ended, and the unit went back on sale.');
      void rereadPurchase(p.purchaseId);
      break;
    case 'PURCHASE_NOT_CANCELLABLE':
      hold.msg = msg('error', code, 'This purchase can no longer be given up: it is already paid (or was never confirmed).');
      void rereadPurchase(p.purchaseId);
      break;
    case 'PURCHASE_NOT_FOUND':
      hold.msg = msg('error', code, 'The shop has no such purchase for your account.');
      break;
    case 'UNAUTHENTICATED':
      endSession();
      promptSignIn('Your sign-in token was refused (expired, or not valid for this shop). Paste a fresh one to manage your order.');
      return;
    default:
      hold.msg = msg('error', code, `Your unit could not be given up: ${message} (${code}).`);
  }
  rerender();
}
