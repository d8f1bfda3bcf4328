// The two create forms (product, sale): browser validation first, then the engine's refusals
// placed beside the fields they name.
import { NetworkError, api } from '../common/api.js';
import { byId, h } from '../common/dom.js';
import { formatCount, formatDateTime, toLocalInput } from '../common/format.js';
import { OTHER, productCreated } from './products.js';
import { authFailed } from './session.js';
import { state, subscribe } from './state.js';
import { holdText, saleCreated, shopLink } from './table.js';

const productForm = byId('product-form');
const saleForm = byId('sale-form');
const productOther = byId('s-product-other');

const toCents = (value) => Math.round(Number(value) * 100);

/** A sale from now for an hour, unless the admin changes it. */
function resetSaleDefaults() {
  const now = new Date();
  saleForm.elements.startsAt.value = toLocalInput(now);
  saleForm.elements.endsAt.value = toLocalInput(new Date(now.getTime() + 3600_000));
}

function fieldError(form, name, message) {
  const input = form.elements[name];
  if (!input || typeof input.setAttribute !== 'function') return false;
  input.setAttribute('aria-invalid', 'true');
  const id = `${input.id}-error`;
  let el = byId(id);
  if (!el) {
    el = h('p', { id, class: 'field-error' });
    input.insertAdjacentElement('afterend', el);
    input.setAttribute('aria-describedby', id);
  }
  el.textContent = message;
  return true;
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  form.querySelector('.form-result').replaceChildren();
}

function formResult(form, kind, content, actions = []) {
  form.querySelector('.form-result').replaceChildren(h('div', { class: `msg msg-${kind}` }, h('span', { class: 'msg-text' }, ...[content].flat()), ...actions));
}

/** Puts the server's VALIDATION_FAILED details beside their fields; the rest goes in the form's message. */
function showRefusal(form, r, fieldFor) {
  if (r.status === 401 || r.status === 403) return authFailed(r);
  const details = Array.isArray(r.error.details) ? r.error.details : [];
  let placed = 0;
  for (const d of details) if (fieldError(form, fieldFor(d.path), d.message)) placed++;
  formResult(form, 'error', placed ? 'Please fix the highlighted fields.' : `${r.error.message} (${r.error.code})`);
  form.querySelector('[aria-invalid="true"]')?.focus();
}

async function submitForm(form, run) {
  clearErrors(form);
  if (!form.checkValidity()) {
    form.reportValidity();
    return;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    await run();
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    formResult(form, 'error', 'The engine cannot be reached. Nothing was created; try again.');
  } finally {
    button.disabled = false;
  }
}

productForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = productForm;
  void submitForm(form, async () => {
    const f = form.elements;
    const body = { sku: f.sku.value.trim(), name: f.name.value.trim(), priceCents: toCents(f.price.value) };
    if (f.description.value.trim()) body.description = f.description.value.trim();
    const r = await api('/api/admin/products', { method: 'POST', token: state.token, body });
    if (!r.ok) {
      if (r.error.code === 'SKU_TAKEN') {
        fieldError(form, 'sku', r.error.message);
        formResult(form, 'error', 'That SKU is taken.');
        return f.sku.focus();
      }
      return showRefusal(form, r, (path) => (path === 'priceCents' ? 'price' : path));
    }
    const p = r.data;
    productCreated(p);
    const sf = saleForm.elements;
    if (!sf.name.value) sf.name.value = `${p.name} drop`;
    form.reset();
    formResult(form, 'success', [`Product “${p.name}” created. It is selected in the sale form.`]);
  });
});

saleForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = saleForm;
  void submitForm(form, async () => {
    const f = form.elements;
    const productId = f.productId.value === OTHER ? productOther.value.trim() : f.productId.value;
    if (!productId) {
      fieldError(form, f.productId.value === OTHER ? 'productIdOther' : 'productId', f.productId.value === OTHER ? 'Paste a product id.' : 'Choose a product, or create one above.');
      return;
    }
    const body = {
      productId,
      name: f.name.value.trim(),
      startsAt: new Date(f.startsAt.value).toISOString(),
      endsAt: new Date(f.endsAt.value).toISOString(),
      stock: Number(f.stock.value),
      perUserLimit: Number(f.perUserLimit.value),
      priceCents: toCents(f.price.value),
      holdSeconds: Number(f.holdSeconds.value),
      listed: f.listed.checked,
    };
    const r = await api('/api/admin/sales', { method: 'POST', token: state.token, body });
    if (!r.ok) {
      if (r.error.code === 'PRODUCT_NOT_FOUND') return void fieldError(form, f.productId.value === OTHER ? 'productIdOther' : 'productId', r.error.message);
      return showRefusal(form, r, (path) => (path === 'priceCents' ? 'price' : path === 'productId' && f.productId.value === OTHER ? 'productIdOther' : path));
    }
    const sale = r.data;
    saleCreated(sale);
    f.name.value = '';
    resetSaleDefaults();
    const watch = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'open-live', onclick: () => (location.hash = `sale=${sale.id}`) }, 'Watch live');
    const summary = `Sale “${sale.name}” created: ${formatCount(sale.stock)} units, ${sale.status === 'upcoming' ? 'opens' : 'opened'} ${formatDateTime(sale.startsAt)}, ${holdText(sale.holdSeconds)} to pay.`;
    // An unlisted sale is reachable by its link only: give the link.
    const unlisted = sale.listed === false ? [' Unlisted: shoppers reach it by ', shopLink(sale.id, 'its link'), ' only.'] : [];
    formResult(form, 'success', [summary, ...unlisted], [watch]);
  });
});

subscribe('token', (token) => {
  if (token) resetSaleDefaults();
});
