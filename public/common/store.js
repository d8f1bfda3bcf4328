// A page's shared state: modules change it with update() and react with subscribe(); what a
// module needs alone stays private to it. Each page makes one (admin/state.js, shop/state.js).

/** A store over `initial`: { state, subscribe(key, fn), update(patch) }. */
export function createStore(initial) {
  const state = initial;
  const listeners = new Map();
  return {
    state,
    /** Calls `fn(value)` after every update() of `key`, in the order modules subscribed. */
    subscribe(key, fn) {
      if (!listeners.has(key)) listeners.set(key, []);
      listeners.get(key).push(fn);
    },
    /** Sets the given keys, then tells their subscribers (even when a value did not change: updates are also events). */
    update(patch) {
      Object.assign(state, patch);
      for (const key of Object.keys(patch)) for (const fn of listeners.get(key) ?? []) fn(state[key]);
    },
  };
}
