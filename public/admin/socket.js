// The admin page's Socket.io connection: opened with the token, closed without it. It pushes
// the watched sale's stock and any sale's status changes.
import { byId } from '../common/dom.js';
import { openSocket, showConnState } from '../common/socket.js';
import { endSession } from './session.js';
import { showLiveStock } from './stats.js';
import { state, subscribe, update } from './state.js';

const conn = byId('conn');

function connectSocket(token) {
  const socket = openSocket(token, {
    onState: (s) => showConnState(conn, s),
    onConnect: () => {
      // A (re)connected socket has lost its rooms.
      if (state.live) socket.emit('sale:watch', { saleId: state.live.saleId }, () => undefined);
    },
    onAuthError: () => endSession('Live updates refused your token. Paste a fresh admin token.'),
  });
  if (!socket) return null;
  socket.on('sale:stock', ({ saleId, remaining }) => showLiveStock(saleId, remaining));
  socket.on('sale:status', ({ saleId, status }) => update({ sale: { id: saleId, status } }));
  return socket;
}

subscribe('token', (token) => {
  state.socket?.close();
  update({ socket: token ? connectSocket(token) : null });
});
