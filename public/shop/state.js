// What the shop page's modules share, and nothing else: the token (set = signed in), the
// socket, the route shown, the open sale view, the sales watched over the socket, and this
// shopper's purchases. Modules change it with update() and react with subscribe(); the rest of
// their state stays private to them, so no module reaches into another's.

export const state = {
  token: null,
  socket: null,
  route: null, // { name: 'list' } or { name: 'sale', id }, with the `seq` of this render and whether to `focus`
  detail: null, // the open sale view's elements ({ saleId, view, form, qty, ... }), else null
  sale: null, // the latest sale whose fields changed (an event: its elements are already updated)
  watched: new Set(), // sale ids the page shows: watched over the socket
  purchases: new Map(), // purchaseId -> purchase (+ `via`: who told us its status); update() re-renders them
  lastAttempt: new Map(), // saleId -> purchaseId of the latest attempt made on this page
};

const listeners = new Map();

/** Calls `fn(value)` after every update() of `key`, in the order modules subscribed. */
export function subscribe(key, fn) {
  if (!listeners.has(key)) listeners.set(key, []);
  listeners.get(key).push(fn);
}

/** Sets the given keys, then tells their subscribers (even when a value did not change: updates are also events). */
export function update(patch) {
  Object.assign(state, patch);
  for (const key of Object.keys(patch)) for (const fn of listeners.get(key) ?? []) fn(state[key]);
}
