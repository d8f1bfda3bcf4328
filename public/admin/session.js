// Signing in and out of the admin page. Signing in sets the token in the state; every module
// that loads or polls starts on it, and stops when it is cleared.
import { byId, h } from '../common/dom.js';
import { decodeToken, tokenProblem, tokenStore } from '../common/token.js';
import { state, update } from './state.js';

export const tokens = tokenStore('flashsale.admin.token');

const els = {
  signin: byId('signin'),
  signinForm: byId('signin-form'),
  tokenInput: byId('admin-token-input'),
  signinError: byId('signin-error'),
  app: byId('app'),
  conn: byId('conn'),
  who: byId('who'),
  signOut: byId('sign-out'),
};

function updateHeader() {
  const claims = state.token ? decodeToken(state.token) : null;
  els.who.hidden = !claims;
  els.conn.hidden = !claims;
  els.signOut.hidden = !claims;
  els.who.replaceChildren(...(claims ? ['Signed in as ', h('strong', {}, String(claims.sub))] : []));
}

function showSignIn(message) {
  els.app.hidden = true;
  els.signin.hidden = false;
  els.signinError.hidden = !message;
  els.signinError.textContent = message ?? '';
  els.tokenInput.focus();
}

/** Starts with the stored token, or asks for one. */
export function startSession() {
  const token = tokens.get();
  const problem = token ? tokenProblem(token, { admin: true }) : null;
  if (!token || problem) {
    if (token) tokens.clear();
    update({ token: null });
    updateHeader();
    showSignIn(problem);
    return;
  }
  els.signin.hidden = true;
  els.app.hidden = false;
  update({ token });
  updateHeader();
}

export function endSession(message) {
  update({ token: null });
  tokens.clear();
  updateHeader();
  showSignIn(message);
}

/** Any 401/403 from an admin route: the token is no good here any more. */
export function authFailed(r) {
  endSession(
    r.status === 403
      ? 'This token is not an admin token. Sign in with one that has role "admin".'
      : 'Your admin token was refused (expired, or signed with another secret). Paste a fresh one.',
  );
}

els.signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = els.tokenInput.value.trim();
  const problem = tokenProblem(token, { admin: true });
  if (problem) {
    els.signinError.textContent = problem;
    els.signinError.hidden = false;
    els.tokenInput.setAttribute('aria-invalid', 'true');
    return;
  }
  els.tokenInput.value = '';
  els.tokenInput.removeAttribute('aria-invalid');
  tokens.set(token);
  startSession();
});

els.signOut.addEventListener('click', () => endSession());
