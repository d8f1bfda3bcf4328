// The sales list (#): live, upcoming and just-sold-out sales, re-read every 10 s; cards are
// updated in place between reads, and every listed sale is watched over the socket.
import { NetworkError, api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { badge, formatMoney } from '../common/format.js';
import { buyFromCard } from './buy.js';
import { fillSale, meter, rememberSale, whenLine } from './sales.js';
import { state, subscribe, update } from './state.js';

const LIST_REFRESH_MS = 10_000;
const view = byId('view');
let timer;

/**
 * A sale's card: its name links to the sale (the link covers the whole card), and while the sale
 * is live a Buy button (one unit, the sale view's attempt) sits above that link.
 */
function saleCard(sale) {
  const buy = h('button', { class: 'btn btn-primary btn-sm', type: 'button', 'data-testid': 'card-buy-button', 'aria-label': `Buy 1 of ${sale.name}` }, 'Buy 1');
  const card = h(
    'article',
    { class: 'sale-card', 'data-testid': 'sale-card', 'data-sale-id': sale.id },
    h(
      'div',
      { class: 'sale-card-head' },
      h('h3', { class: 'sale-name' }, h('a', { class: 'sale-card-link', href: `#sale=${sale.id}` }, sale.name)),
      badge(sale.status, { 'data-field': 'badge' }),
    ),
    h('p', { class: 'price' }, formatMoney(sale.priceCents)),
    h(
      'div',
      { class: 'stock-line' },
      h('span', {}, h('strong', { 'data-testid': 'sale-remaining', 'data-field': 'remaining' }), ' left'),
      h('span', {}, 'of ', h('span', { 'data-field': 'stock' })),
    ),
    meter(),
    h('p', { class: 'when', 'data-field': 'when' }, ...whenLine(sale)),
    h('div', { class: 'sale-card-buy' }, buy, h('div', { class: 'card-msg', role: 'status', 'data-field': 'buy-msg', 'data-testid': 'card-message' })),
  );
  buy.addEventListener('click', () => void buyFromCard(card, sale.id));
  card.dataset.status = sale.status;
  fillSale(card, sale);
  return card;
}

function saleGroup(id, title, emptyText) {
  const grid = h('div', { class: 'sale-grid' });
  const count = h('span', { class: 'count' });
  const empty = h('p', { class: 'empty', hidden: true }, emptyText);
  const loading = h('p', { class: 'muted' }, 'Loading sales…');
  const el = h('section', { class: 'sale-group', 'aria-labelledby': id }, h('div', { class: 'section-head' }, h('h2', { id }, title), count), loading, grid, empty);
  return { el, grid, count, empty, loading };
}

async function renderList(seq, focus) {
  const error = h('div', { class: 'msg-region', 'data-testid': 'error-message', role: 'alert' });
  const groups = {
    active: saleGroup('g-active', 'Live now', 'No sale is live right now. See what is coming up below.'),
    upcoming: saleGroup('g-upcoming', 'Coming up', 'Nothing is scheduled yet. Check back soon.'),
    sold_out: saleGroup('g-sold', 'Just sold out', ''),
  };
  document.title = 'FlashSale — live drops';
  const title = h('h1', { tabindex: '-1' }, 'Flash sales');
  view.replaceChildren(
    h('section', { class: 'intro' }, title, h('p', { class: 'muted' }, 'Limited stock, first come, first served. Stock and countdowns update live.')),
    error,
    groups.active.el,
    groups.upcoming.el,
    groups.sold_out.el,
  );
  if (focus) title.focus();
  await loadList(seq, groups, error);
}

async function loadList(seq, groups, error) {
  try {
    const statuses = ['active', 'upcoming', 'sold_out'];
    const replies = await Promise.all(statuses.map((s) => api(`/api/sales?status=${s}&limit=${s === 'sold_out' ? 6 : 30}`)));
    if (seq !== state.route.seq) return;
    const failed = replies.find((r) => !r.ok);
    if (failed) throw new Error(failed.error.message);
    const lists = Object.fromEntries(statuses.map((s, i) => [s, replies[i].data.items.map(rememberSale)]));
    lists.active.sort((a, b) => Date.parse(a.endsAt) - Date.parse(b.endsAt));
    lists.upcoming.sort((a, b) => Date.parse(a.startsAt) - Date.parse(b.startsAt));
    for (const s of statuses) {
      const g = groups[s];
      // Cards are updated in place and only re-ordered when the order changed: focus stays put.
      const existing = new Map([...g.grid.children].map((c) => [c.dataset.saleId, c]));
      const cards = lists[s].map((sale) => {
        const card = existing.get(sale.id);
        if (!card) return saleCard(sale);
        fillSale(card, sale);
        return card;
      });
      if (cards.length !== g.grid.children.length || cards.some((c, i) => g.grid.children[i] !== c)) g.grid.replaceChildren(...cards);
      g.loading.hidden = true;
      g.count.textContent = lists[s].length ? `${lists[s].length} sale${lists[s].length === 1 ? '' : 's'}` : '';
      g.empty.hidden = lists[s].length > 0 || s === 'sold_out';
      if (s === 'sold_out') g.el.hidden = lists[s].length === 0;
    }
    update({ watched: new Set(statuses.flatMap((s) => lists[s].map((sale) => sale.id))) });
    error.replaceChildren();
  } catch (err) {
    if (seq !== state.route.seq) return;
    const reason = err instanceof NetworkError ? 'The shop cannot be reached right now.' : `Sales could not be loaded (${err.message}).`;
    error.replaceChildren(h('div', { class: 'msg msg-error' }, h('span', { class: 'msg-text' }, `${reason} Retrying automatically…`)));
  } finally {
    if (seq === state.route.seq) timer = setTimeout(() => void loadList(seq, groups, error), LIST_REFRESH_MS);
  }
}

subscribe('route', ({ name, seq, focus }) => {
  clearTimeout(timer);
  if (name === 'list') void renderList(seq, focus);
});
