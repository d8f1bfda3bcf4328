// The shopper page: the sales list (#), one sale (#sale=<id>), buying, live purchase status.
// Each module subscribes to the shared state on import (state.js says what is shared); this
// file only imports them, follows the URL fragment and starts the session and the first view.
import { startCountdowns } from '../common/countdown.js';
import { takeTokenFromFragment } from '../common/token.js';
import { startSession, tokens } from './session.js';
import './socket.js';
import './purchases.js';
import './list.js';
import './buy.js';
import './line.js';
import { render } from './route.js';

window.addEventListener('hashchange', () => {
  // A token pasted into the address bar later is honoured too.
  if (new URLSearchParams(location.hash.slice(1)).has('token')) {
    takeTokenFromFragment(tokens);
    startSession();
  }
  window.scrollTo(0, 0);
  render({ focus: true });
});

takeTokenFromFragment(tokens);
startCountdowns();
startSession();
render();
