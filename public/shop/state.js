// What the shop page's modules share, and nothing else: the token (set = signed in), the
// socket, the route shown, the open sale view, the sales watched over the socket, and this
// shopper's purchases. Modules change it with update() and react with subscribe(); the rest of
// their state stays private to them, so no module reaches into another's.

import { createStore } from '../common/store.js';

export const { state, subscribe, update } = createStore({
  token: null,
  socket: null,
  route: null, // { name: 'list' } or { name: 'sale', id }, with the `seq` of this render and whether to `focus`
  detail: null, // the open sale view's elements ({ saleId, view, form, qty, ... }), else null
  sale: null, // the latest sale whose fields changed (an event: its elements are already updated)
  watched: new Set(), // sale ids the page shows: watched over the socket
  purchases: new Map(), // purchaseId -> purchase (+ `via`: who told us its status); update() re-renders them
  lastAttempt: new Map(), // saleId -> purchaseId of the latest attempt made on this page
});
