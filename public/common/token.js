// The signed-in token: taken from the URL fragment, kept in sessionStorage, checked before use.
import { formatDateTime } from './format.js';

const memoryStore = new Map();

function storage() {
  try {
    const probe = '__fs_probe__';
    sessionStorage.setItem(probe, '1');
    sessionStorage.removeItem(probe);
    return sessionStorage;
  } catch {
    // Storage disabled (privacy mode): keep the token for this page's life only.
    return {
      getItem: (k) => (memoryStore.has(k) ? memoryStore.get(k) : null),
      setItem: (k, v) => memoryStore.set(k, String(v)),
      removeItem: (k) => memoryStore.delete(k),
    };
  }
}

export const tokenStore = (key) => ({
  get: () => storage().getItem(key),
  set: (token) => storage().setItem(key, token),
  clear: () => storage().removeItem(key),
});

/**
 * Takes `token=` out of the URL fragment into sessionStorage and strips it from the address
 * bar (and from history), keeping the rest of the fragment (e.g. `sale=<id>`).
 */
export function takeTokenFromFragment(store) {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has('token')) return;
  const token = (params.get('token') ?? '').trim();
  params.delete('token');
  if (token) store.set(token);
  const rest = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`);
}

/** The JWT's claims, unverified (the server verifies): for display and early, friendly checks. */
export function decodeToken(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3 || !parts[1]) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
    return claims && typeof claims === 'object' ? claims : null;
  } catch {
    return null;
  }
}

/** A human reason why this token cannot work, or null when it looks usable. */
export function tokenProblem(token, { admin = false } = {}) {
  const t = String(token ?? '').trim();
  if (!t) return 'Paste a token first.';
  const claims = decodeToken(t);
  if (!claims) return 'That does not look like a token: expected three dot-separated parts (a JWT).';
  if (typeof claims.sub !== 'string' || !claims.sub) return 'This token has no user ("sub" claim).';
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now() - 30_000) {
    return `This token expired ${formatDateTime(new Date(claims.exp * 1000).toISOString())}. Mint a fresh one.`;
  }
  if (admin && claims.role !== 'admin') {
    return 'This is a shopper token; the admin page needs one with role "admin" (npm run token -- --sub you --role admin).';
  }
  return null;
}
