// What the admin page's modules share, and nothing else: the token (set = signed in), the
// socket, the watched sale (`live`) and the latest sale view the page learned of (`sale`).
// Modules change it with update() and react with subscribe(); the rest of their state stays
// private to them, so no module reaches into another's.

export const state = {
  token: null,
  socket: null,
  live: null, // { saleId, sale, seq, timer, samples, peak, refs, ... } while a sale is watched
  sale: null, // a sale view (possibly partial) from an edit, a refresh or a push
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
