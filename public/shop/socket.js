// The shop page's Socket.io connection: opened with the token, closed without it. It pushes
// the watched sales' stock and status and this shopper's purchase updates; after a reconnect
// the sales are watched again and the purchases re-read (pushes sent while away are lost).
import { byId } from '../common/dom.js';
import { openSocket, showConnState } from '../common/socket.js';
import { applyPurchase, refreshMyPurchases } from './purchases.js';
import { applySalePush } from './sales.js';
import { endSession, promptSignIn } from './session.js';
import { state, subscribe, update } from './state.js';

const conn = byId('conn');
let watching = new Set(); // the watched sales the socket was last told about

function connectSocket(token) {
  const socket = openSocket(token, {
    onState: (s) => showConnState(conn, s),
    onConnect: ({ reconnect }) => {
      // A new connection has no rooms: watch again. Pushes sent while away are lost: re-fetch.
      for (const id of state.watched) socket.emit('sale:watch', { saleId: id }, () => undefined);
      if (reconnect) void refreshMyPurchases();
    },
    onAuthError: () => {
      endSession();
      promptSignIn('Your sign-in token was refused (expired, or not valid for this shop). Paste a fresh one to buy.');
    },
  });
  if (!socket) return null;
  // The whole purchase, as GET /api/purchases/:id answers it (also one bought in another tab).
  socket.on('purchase:update', (purchase) => applyPurchase(purchase, 'socket'));
  socket.on('sale:stock', ({ saleId, remaining }) => applySalePush(saleId, { remaining }));
  socket.on('sale:status', ({ saleId, status }) => applySalePush(saleId, { status }));
  return socket;
}

subscribe('token', (token) => {
  state.socket?.close();
  update({ socket: token ? connectSocket(token) : null });
});

// The views say which sales they show; a connected socket joins and leaves their rooms now,
// one that is (re)connecting joins them all on connect.
subscribe('watched', (next) => {
  const socket = state.socket;
  if (socket?.connected) {
    for (const id of next) if (!watching.has(id)) socket.emit('sale:watch', { saleId: id }, () => undefined);
    for (const id of watching) if (!next.has(id)) socket.emit('sale:unwatch', { saleId: id });
  }
  watching = next;
});
