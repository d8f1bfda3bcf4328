// The sale form's product picker: the newest products from GET /api/admin/products, plus the
// ones created on this page, and the sale price it suggests from the chosen product.
import { NetworkError, api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { formatMoney } from '../common/format.js';
import { authFailed } from './session.js';
import { state, subscribe } from './state.js';

/** The picker's "paste an id" option. */
export const OTHER = '__other__';
const PRODUCT_PAGE = 100; // the API's largest page
const MAX_PRODUCTS = 200;

const select = byId('s-product');
const other = byId('s-product-other');
const hint = byId('s-product-hint');
const salePrice = byId('sale-form').elements.price;

let products = []; // the newest MAX_PRODUCTS, from the API
let more = false; // there are older ones past the cap
let loadError = null;
let loading = false;
let seq = 0; // bumped to drop the answers of a load that is no longer wanted
const created = new Map(); // created on this page, kept should a list load started before miss them
let autoPrice = ''; // the price this picker last filled in, to tell it from one the admin typed

/**
 * Loads the picker newest first, page by page up to MAX_PRODUCTS. Past that cap (or when the
 * list cannot be loaded) the picker also offers pasting a product id, the only way left to
 * reach an older product.
 */
async function loadProducts() {
  const mine = ++seq;
  loading = true;
  loadError = null;
  fillProducts();
  const found = new Map();
  let beyond = false;
  try {
    for (let offset = 0; offset < MAX_PRODUCTS; offset += PRODUCT_PAGE) {
      const limit = Math.min(PRODUCT_PAGE, MAX_PRODUCTS - offset);
      const r = await api(`/api/admin/products?limit=${limit}&offset=${offset}`, { token: state.token });
      if (mine !== seq) return;
      if (r.status === 401 || r.status === 403) return authFailed(r);
      if (!r.ok) throw new Error(`${r.error.message} (${r.error.code})`);
      // A product created between two pages shifts the next one: keep the first sighting.
      for (const p of r.data.items) if (!found.has(p.id)) found.set(p.id, p);
      if (r.data.items.length < limit) break;
      if (offset + limit >= MAX_PRODUCTS) {
        const probe = await api(`/api/admin/products?limit=1&offset=${MAX_PRODUCTS}`, { token: state.token });
        if (mine !== seq) return;
        beyond = !probe.ok || probe.data.items.length > 0;
      }
    }
    products = [...found.values()];
    more = beyond;
  } catch (err) {
    if (mine !== seq) return;
    loadError = err instanceof NetworkError ? 'the engine cannot be reached' : err.message;
  }
  loading = false;
  fillProducts();
}

/** The loaded list, with the products created on this page since (they are the newest) in front. */
function productList() {
  const loaded = new Set(products.map((p) => p.id));
  return [...[...created.values()].reverse().filter((p) => !loaded.has(p.id)), ...products];
}

const findProduct = (id) => productList().find((p) => p.id === id);

function fillProducts(selectId) {
  const current = selectId ?? select.value;
  const list = productList();
  const canPaste = more || Boolean(loadError);
  let empty = null;
  if (!list.length) {
    empty = loading ? 'Loading products…' : loadError ? 'Products could not be loaded' : 'Create a product first…';
  }
  select.replaceChildren(
    ...(empty ? [h('option', { value: '' }, empty)] : []),
    ...list.map((p) => h('option', { value: p.id }, `${p.name} · ${p.sku} · ${formatMoney(p.priceCents)}`)),
    ...(canPaste ? [h('option', { value: OTHER }, 'Another product (paste its id)…')] : []),
  );
  if (current && [...select.options].some((o) => o.value === current)) select.value = current;
  other.hidden = select.value !== OTHER;

  if (loadError) {
    hint.replaceChildren(
      `Products could not be loaded: ${loadError}. `,
      h('button', { class: 'btn-link', type: 'button', onclick: () => void loadProducts() }, 'Try again'),
    );
  } else if (more) {
    hint.replaceChildren(`The newest ${MAX_PRODUCTS} products are listed; paste the id of an older one.`);
  } else {
    hint.replaceChildren();
  }
  hint.hidden = !hint.firstChild;
  suggestPrice(findProduct(select.value));
}

/** Fills the sale price from the product, unless the admin typed a price of their own. */
function suggestPrice(p) {
  if (!p || (salePrice.value && salePrice.value !== autoPrice)) return;
  salePrice.value = (p.priceCents / 100).toFixed(2);
  autoPrice = salePrice.value;
}

/** A product the product form just created: listed and selected. */
export function productCreated(p) {
  created.set(p.id, p);
  fillProducts(p.id);
}

select.addEventListener('change', () => {
  other.hidden = select.value !== OTHER;
  suggestPrice(findProduct(select.value));
  if (!other.hidden) other.focus();
});

subscribe('token', (token) => {
  if (token) void loadProducts();
  else seq++;
});
