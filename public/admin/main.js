// The admin page: create products and sales, list sales, watch one sale live (stats polled
// every second, admissions/confirmations per second charted, stock over Socket.io).
// Each module subscribes to the shared state on import; the import order below is the order
// they start in when a session starts (socket first, then forms and lists, then the live view).
import { takeTokenFromFragment } from '../common/token.js';
import { startSession, tokens } from './session.js';
import './socket.js';
import './forms.js';
import './dead-letters.js';
import './queues.js';
import { route } from './live.js';

// A link with a new token (#token=...) signs in again; any other fragment change is navigation.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) {
    takeTokenFromFragment(tokens);
    startSession();
    return;
  }
  route();
});

takeTokenFromFragment(tokens);
startSession();
