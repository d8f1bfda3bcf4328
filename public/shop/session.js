// Signing in and out of the shop page. Browsing needs no token; buying does. Signing in sets the
// token in the state: the socket opens and the purchases load on it, and both stop when it is
// cleared.
import { api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { decodeToken, tokenProblem, tokenStore } from '../common/token.js';
import { clearMessage, showMessage } from './sale.js';
import { state, update } from './state.js';

export const tokens = tokenStore('flashsale.shopper.token');

const els = {
  signin: byId('signin'),
  signinForm: byId('signin-form'),
  tokenInput: byId('token-input'),
  signinError: byId('signin-error'),
  conn: byId('conn'),
  who: byId('who'),
  signOut: byId('sign-out'),
};

function updateHeader() {
  const claims = state.token ? decodeToken(state.token) : null;
  els.who.hidden = !claims;
  els.signOut.hidden = !state.token;
  els.conn.hidden = !state.token;
  els.who.replaceChildren(...(claims ? ['Signed in as ', h('strong', {}, String(claims.sub))] : []));
}

/** Starts with the stored token (the socket reconnects with it), or shows the sign-in box. */
export function startSession() {
  const token = tokens.get();
  els.signin.hidden = Boolean(token);
  if (token) els.signinError.hidden = true;
  update({ token });
  updateHeader();
}

/** Signs out: the socket closes, this shopper's purchases are forgotten. */
export function endSession() {
  tokens.clear();
  update({ token: null });
  updateHeader();
  els.signin.hidden = false;
}

/** Shows the sign-in box with a reason, and the same reason where the shopper was about to buy. */
export function promptSignIn(message) {
  els.signin.hidden = false;
  els.signinError.textContent = message;
  els.signinError.hidden = false;
  if (state.detail) {
    const go = h('button', { class: 'btn btn-sm', type: 'button', onclick: () => focusSignIn() }, 'Sign in');
    showMessage(message, { kind: 'warning', code: 'UNAUTHENTICATED', actions: [go] });
  }
  focusSignIn();
}

function focusSignIn() {
  els.signin.scrollIntoView({ block: 'nearest' });
  els.tokenInput.focus({ preventScroll: true });
}

els.signinForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const token = els.tokenInput.value.trim();
  const problem = tokenProblem(token);
  const fail = (msg) => {
    els.signinError.textContent = msg;
    els.signinError.hidden = false;
    els.tokenInput.setAttribute('aria-invalid', 'true');
  };
  if (problem) return fail(problem);
  const button = els.signinForm.querySelector('button');
  button.disabled = true;
  try {
    const r = await api('/api/me/purchases?limit=1', { token });
    if (r.status === 401) return fail('The shop refused this token: it is forged, expired, or signed with another secret.');
    if (!r.ok) return fail(`The token could not be checked (${r.error.code}). Try again.`);
  } catch {
    return fail('The shop cannot be reached right now. Check your connection and try again.');
  } finally {
    button.disabled = false;
  }
  els.tokenInput.value = '';
  els.tokenInput.removeAttribute('aria-invalid');
  tokens.set(token);
  startSession();
  if (state.detail?.error.dataset.code === 'UNAUTHENTICATED') clearMessage();
});

els.signOut.addEventListener('click', () => {
  endSession();
  els.signinError.hidden = true;
});
