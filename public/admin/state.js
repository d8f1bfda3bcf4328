// What the admin page's modules share, and nothing else: the token (set = signed in), the
// socket, the watched sale (`live`) and the latest sale view the page learned of (`sale`).
// Modules change it with update() and react with subscribe(); the rest of their state stays
// private to them, so no module reaches into another's.

import { createStore } from '../common/store.js';

export const { state, subscribe, update } = createStore({
  token: null,
  socket: null,
  live: null, // { saleId, sale, seq, timer, samples, peak, refs, ... } while a sale is watched
  sale: null, // a sale view (possibly partial) from an edit, a refresh or a push
});
