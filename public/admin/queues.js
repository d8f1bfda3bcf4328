// The "Queue dashboard" link: the dashboard (bull-board, /admin/queues) is a page of its own
// that cannot send our bearer token, so a click first trades the token for a short-lived
// HttpOnly cookie scoped to /admin/queues (POST /api/admin/session), then opens it.
import { api } from '../common/api.js';
import { byId } from '../common/dom.js';
import { authFailed } from './session.js';
import { state, subscribe } from './state.js';

const link = byId('open-queues');

subscribe('token', (token) => {
  link.hidden = !token;
});

link.addEventListener('click', async (event) => {
  event.preventDefault();
  if (!state.token) return;
  const r = await api('/api/admin/session', { token: state.token, method: 'POST', credentials: 'same-origin' }).catch(() => null);
  if (r && (r.status === 401 || r.status === 403)) return authFailed(r);
  if (!r || !r.ok) {
    link.title = `Could not open the dashboard${r ? `: ${r.error.message}` : ' (network error)'}`;
    return;
  }
  // A popup blocker may refuse a tab opened after the await: then go there in this tab.
  const tab = window.open(r.data.dashboardUrl, '_blank');
  if (tab) tab.opener = null;
  else location.assign(r.data.dashboardUrl);
});
