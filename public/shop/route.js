// The page's two views, chosen by the URL fragment: the sales list (#) or one sale (#sale=<id>).
// Each render gets a new `seq`; an answer that arrives for an older one is dropped.
import { state, update } from './state.js';

function currentRoute() {
  const params = new URLSearchParams(location.hash.slice(1));
  const sale = params.get('sale');
  return sale ? { name: 'sale', id: sale.toLowerCase() } : { name: 'list' };
}

/** Shows the view the fragment names (list.js and sale.js render it). */
export function render({ focus = false } = {}) {
  update({ route: { ...currentRoute(), seq: (state.route?.seq ?? 0) + 1, focus } });
}
