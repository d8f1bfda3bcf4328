// The "Manage this sale" panel of the live view: its elements only. manage.js passes the
// actions the controls run, and shows the sale in them (showLiveSale).
import { h } from '../common/dom.js';
import { shopLink } from './table.js';

/** A labelled field and its submit button in one form; submitting runs `action` instead of navigating. */
function oneFieldForm(testId, label, field, button, action) {
  const onsubmit = (event) => {
    event.preventDefault();
    void action();
  };
  return h(
    'form',
    { class: 'manage-form', novalidate: true, 'data-testid': testId, onsubmit },
    h('label', { for: field.id }, label),
    h('div', { class: 'inline-field' }, field, button),
  );
}

/** The panel: its element and the controls the actions read and disable. */
export function buildManagePanel(actions) {
  const units = h('input', {
    id: 'add-stock-units',
    name: 'units',
    type: 'number',
    min: '1',
    max: '10000000',
    step: '1',
    value: '10',
    required: true,
    inputmode: 'numeric',
    'data-testid': 'add-stock-units',
  });
  const addStockButton = h('button', { class: 'btn btn-sm', type: 'submit', 'data-testid': 'add-stock' }, 'Add stock');
  const addStock = oneFieldForm('add-stock-form', 'Units to add', units, addStockButton, actions.addStock);
  const endsAt = h('input', { id: 'extend-end-at', name: 'endsAt', type: 'datetime-local', required: true, 'data-testid': 'extend-end-at' });
  const extendButton = h('button', { class: 'btn btn-sm', type: 'submit', 'data-testid': 'extend-end' }, 'Extend end');
  const extend = oneFieldForm('extend-end-form', 'New end', endsAt, extendButton, actions.extend);
  const reconcile = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'reconcile-sale', onclick: () => void actions.reconcile() }, 'Reconcile');
  const cancel = h(
    'button',
    { class: 'btn btn-sm btn-danger', type: 'button', 'data-testid': 'cancel-sale', 'aria-expanded': 'false', 'aria-controls': 'cancel-confirm', onclick: () => actions.askCancel(true) },
    'Cancel sale',
  );
  // Listed in the shop or not (PATCH {listed}); the shop link reaches the sale either way.
  const listingState = h('span', { class: 'listing-state', 'data-testid': 'listing-state' });
  const listingLink = h('span', { class: 'listing-link' });
  const toggleListed = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'toggle-listed', onclick: () => void actions.toggleListed() }, '…');
  const listing = h('div', { class: 'listing', 'data-testid': 'listing' }, h('span', { class: 'listing-label' }, 'Shop listing'), listingState, toggleListed, listingLink);
  const confirmText = h('span', { class: 'msg-text' });
  const confirmYes = h('button', { class: 'btn btn-sm btn-danger-solid', type: 'button', 'data-testid': 'confirm-cancel', onclick: () => void actions.confirmCancel() }, 'Yes, cancel the sale');
  const confirmNo = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'keep-sale', onclick: () => actions.askCancel(false) }, 'Keep it running');
  const confirm = h(
    'div',
    { id: 'cancel-confirm', class: 'msg msg-warning confirm', role: 'group', 'aria-label': 'Confirm the cancellation', 'data-testid': 'cancel-confirm', hidden: true },
    confirmText,
    h('span', { class: 'form-actions' }, confirmYes, confirmNo),
  );
  const closedNote = h('p', { class: 'hint', 'data-testid': 'manage-closed', hidden: true });
  const result = h('div', { class: 'msg-region manage-result', role: 'status', 'aria-live': 'polite', 'data-testid': 'action-result' });
  const el = h(
    'section',
    { class: 'manage', 'aria-labelledby': 'manage-title', 'data-testid': 'manage' },
    h('h3', { id: 'manage-title' }, 'Manage this sale'),
    listing,
    h('div', { class: 'manage-row' }, addStock, extend, h('div', { class: 'manage-buttons' }, reconcile, cancel)),
    closedNote,
    confirm,
    result,
  );
  return { el, units, addStockButton, endsAt, extendButton, reconcile, cancel, listingState, listingLink, toggleListed, confirm, confirmText, confirmYes, confirmNo, closedNote, result };
}

/** Shows whether `sale` is listed, and offers the other way. */
export function showListing(m, sale) {
  const known = typeof sale.listed === 'boolean';
  const text = !known ? 'Listing unknown' : sale.listed ? 'Listed: in the shop’s list' : 'Unlisted: reachable by its link only';
  if (m.listingState.textContent !== text) m.listingState.textContent = text;
  m.listingState.dataset.listed = String(sale.listed);
  m.toggleListed.textContent = sale.listed === false ? 'List in the shop' : 'Unlist';
  if (m.listingLink.dataset.saleId !== sale.id) {
    m.listingLink.dataset.saleId = sale.id;
    m.listingLink.replaceChildren(shopLink(sale.id, 'Open in the shop ↗'));
  }
  return known;
}
