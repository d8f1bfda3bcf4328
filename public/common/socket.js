// The engine's Socket.io connection and the header's connection indicator.

/**
 * Opens the engine's Socket.io connection (global `io` from /socket.io/socket.io.js).
 * `onConnect({ reconnect })` runs on every connect: sockets lose their rooms and any event
 * sent while away, so callers re-watch and re-fetch there. Returns null when the client
 * script is unavailable (the pages then rely on polling).
 */
export function openSocket(token, { onState, onConnect, onAuthError }) {
  if (typeof io !== 'function') {
    onState('offline');
    return null;
  }
  const socket = io({ auth: { token }, reconnectionDelay: 1000, reconnectionDelayMax: 5000 });
  let connectedBefore = false;
  onState('connecting');
  socket.on('connect', () => {
    onState('live');
    onConnect({ reconnect: connectedBefore });
    connectedBefore = true;
  });
  socket.on('disconnect', (reason) => {
    onState('reconnecting');
    // The server closed it: Socket.io does not retry on its own in that case.
    if (reason === 'io server disconnect') setTimeout(() => socket.connect(), 1000);
  });
  socket.on('connect_error', (err) => {
    if (!socket.active && err?.message === 'UNAUTHENTICATED') {
      onState('offline');
      onAuthError();
    } else {
      onState('reconnecting');
    }
  });
  return socket;
}

const CONN_TEXT = {
  live: 'Live',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  offline: 'Offline',
};

export function showConnState(el, state) {
  el.dataset.state = state;
  el.textContent = CONN_TEXT[state] ?? state;
  el.title =
    state === 'live' ? 'Live updates are on' : state === 'offline' ? 'Live updates are off; statuses are polled' : 'Trying to restore live updates';
}
