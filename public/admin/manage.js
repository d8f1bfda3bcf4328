// Managing the watched sale from its live view: add stock, move the end, list or unlist it in
// the shop, reconcile, cancel (asked in the page first). One action at a time; refusals are
// shown in the page.
import { NetworkError, api } from '../common/api.js';
import { h } from '../common/dom.js';
import { badge, formatCount, formatDateTime, formatMoney, formatTime, toLocalInput } from '../common/format.js';
import { buildManagePanel, showListing } from './manage-panel.js';
import { authFailed } from './session.js';
import { state, subscribe, update } from './state.js';
import { pollSoon, refreshSale } from './stats.js';

/** The "Manage this sale" panel (manage-panel.js builds it), wired to the actions below. */
export const managePanel = () =>
  buildManagePanel({
    addStock: addStockAction,
    extend: extendAction,
    reconcile: reconcileAction,
    toggleListed: toggleListedAction,
    askCancel: (open) => askCancel(open),
    confirmCancel: cancelAction,
  });

const saleSummary = (sale) =>
  [
    sale.startsAt ? `${formatDateTime(sale.startsAt)} → ${formatDateTime(sale.endsAt)}` : '',
    sale.priceCents ? `${formatMoney(sale.priceCents)} each` : '',
    sale.perUserLimit ? `limit ${sale.perUserLimit} per shopper` : '',
  ]
    .filter(Boolean)
    .join(' · ');

/** Shows a (partial) sale view in the live view: header, badge, and which controls apply. */
export function showLiveSale(changes) {
  const live = state.live;
  if (!live) return;
  const sale = (live.sale = { ...live.sale, ...changes });
  const { refs } = live;
  const m = refs.manage;
  if (refs.title.textContent !== sale.name) refs.title.textContent = sale.name;
  refs.summary.textContent = saleSummary(sale);
  if (refs.badge.dataset.status !== sale.status) {
    refs.badge.dataset.status = sale.status;
    refs.badge.replaceChildren(badge(sale.status));
  }
  // A cancelled or ended sale never changes again; reconciling stays possible.
  const closed = sale.status === 'cancelled' || sale.status === 'ended';
  const listingKnown = showListing(m, sale);
  for (const el of [m.units, m.addStockButton, m.endsAt, m.extendButton, m.cancel]) el.disabled = closed || live.busy;
  m.toggleListed.disabled = closed || live.busy || !listingKnown;
  m.reconcile.disabled = live.busy;
  m.confirmYes.disabled = live.busy;
  m.closedNote.hidden = !closed;
  m.closedNote.textContent = sale.status === 'cancelled' ? 'This sale was cancelled: it can no longer change.' : 'This sale has ended: it can no longer change.';
  if (closed && !m.confirm.hidden) askCancel(false, { focus: false });
  // The end field proposes an hour more than the current end, until the end moves.
  if (sale.endsAt && m.endsAt.dataset.base !== sale.endsAt) {
    m.endsAt.dataset.base = sale.endsAt;
    m.endsAt.value = toLocalInput(new Date(Date.parse(sale.endsAt) + 3600_000));
  }
}

function askCancel(open, { focus = true } = {}) {
  const live = state.live;
  if (!live) return;
  const m = live.refs.manage;
  m.confirm.hidden = !open;
  m.cancel.setAttribute('aria-expanded', String(open));
  if (open) {
    m.confirmText.textContent = `Cancel “${live.sale.name}”? Admissions stop at once and purchases still queued are rejected; confirmed orders stand. This cannot be undone.`;
    if (focus) m.confirmNo.focus();
  } else if (focus && !m.cancel.disabled) {
    m.cancel.focus();
  }
}

/** Runs one action at a time; while it runs the controls are disabled. */
async function liveAction(work) {
  const live = state.live;
  if (!live || live.busy) return;
  live.busy = true;
  showLiveSale({});
  try {
    await work(live);
  } catch (err) {
    if (!(err instanceof NetworkError)) throw err;
    if (state.live === live) {
      actionResult(live, 'error', 'action-error', 'The engine cannot be reached, so the change may not have been made. The counters above tell; try again.');
    }
  } finally {
    live.busy = false;
    if (state.live === live) showLiveSale({});
  }
}

function actionResult(live, kind, testid, ...content) {
  const el = h('div', { class: `msg msg-${kind}`, 'data-testid': testid, tabindex: '-1' }, h('div', { class: 'msg-text' }, ...content));
  live.refs.manage.result.replaceChildren(el);
  return el;
}

/** A refusal, in the page: the engine's message and code, and when to retry if it said. */
function actionRefused(live, r, what) {
  if (r.status === 401 || r.status === 403) return authFailed(r);
  const retry = r.retryAfter !== undefined ? ` Try again in ${r.retryAfter} s.` : '';
  const el = actionResult(live, 'error', 'action-error', `${what} refused: ${r.error.message} (${r.error.code}).${retry}`);
  el.dataset.code = r.error.code;
  // The refusal may come from a change of status (ended, cancelled elsewhere): show it.
  void refreshSale(live);
}

/** The sale view a change answered with: everywhere it is shown, newer than any refresh in flight. */
function liveSaleChanged(live, sale) {
  live.saleVersion++;
  update({ sale });
  pollSoon(live);
}

const report = (rows) =>
  h('dl', { class: 'report' }, ...rows.map(([term, value, testid]) => [h('dt', {}, term), h('dd', testid ? { 'data-testid': testid } : {}, String(value))]));

async function addStockAction() {
  const m = state.live?.refs.manage;
  if (!m) return;
  if (!m.units.checkValidity()) return void m.units.reportValidity();
  const n = Number(m.units.value);
  await liveAction(async (live) => {
    // Stock is absolute in the API: read the current stock just before adding to it.
    const current = await api(`/api/admin/sales/${live.saleId}`, { token: state.token });
    if (state.live !== live) return;
    if (!current.ok) return actionRefused(live, current, 'Adding stock');
    const from = current.data.stock;
    const r = await api(`/api/admin/sales/${live.saleId}`, { method: 'PATCH', token: state.token, body: { stock: from + n } });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Adding stock');
    liveSaleChanged(live, r.data);
    actionResult(
      live,
      'success',
      'stock-added',
      `Added ${formatCount(n)} ${n === 1 ? 'unit' : 'units'}: stock ${formatCount(from)} → ${formatCount(r.data.stock)}, ${formatCount(r.data.remaining)} left.`,
    );
  });
}

async function extendAction() {
  const m = state.live?.refs.manage;
  if (!m) return;
  if (!m.endsAt.checkValidity()) return void m.endsAt.reportValidity();
  const endsAt = new Date(m.endsAt.value);
  await liveAction(async (live) => {
    const r = await api(`/api/admin/sales/${live.saleId}`, { method: 'PATCH', token: state.token, body: { endsAt: endsAt.toISOString() } });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Changing the end');
    liveSaleChanged(live, r.data);
    actionResult(live, 'success', 'end-extended', `The sale now ends ${formatDateTime(r.data.endsAt)}.`);
  });
}

async function toggleListedAction() {
  await liveAction(async (live) => {
    const listed = !live.sale.listed;
    const r = await api(`/api/admin/sales/${live.saleId}`, { method: 'PATCH', token: state.token, body: { listed } });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, listed ? 'Listing the sale' : 'Unlisting the sale');
    liveSaleChanged(live, r.data);
    actionResult(
      live,
      'success',
      'listing-changed',
      listed ? 'Listed: the sale is in the shop’s list again.' : 'Unlisted: the sale left the shop’s list; shoppers reach it by its link only.',
    );
  });
}

async function reconcileAction() {
  await liveAction(async (live) => {
    const r = await api(`/api/admin/sales/${live.saleId}/reconcile`, { method: 'POST', token: state.token });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Reconciling');
    const x = r.data;
    pollSoon(live);
    const verdict =
      x.drift === null ? 'Redis had lost the sale; its gate was rebuilt from PostgreSQL.' : x.drift === 0 ? 'Redis agreed with PostgreSQL.' : `Redis was off by ${x.drift}; corrected.`;
    actionResult(
      live,
      'info',
      'reconcile-report',
      h('strong', {}, `Reconciled at ${formatTime(new Date().toISOString())}. `),
      verdict,
      report([
        ['Left · Redis', `${x.before.redisRemaining === null ? 'missing' : formatCount(x.before.redisRemaining)} → ${formatCount(x.after.redisRemaining)}`],
        ['Left · PostgreSQL', `${formatCount(x.before.pgRemaining)} → ${formatCount(x.after.pgRemaining)}`],
        ['Stock · sold · held', `${formatCount(x.stock)} · ${formatCount(x.sold)} · ${formatCount(x.held)}`],
        ['In flight', `${formatCount(x.inflight.purchases)} purchases (${formatCount(x.inflight.units)} units)`],
        ['Settled in the gate', formatCount(x.settled)],
        ['Orphans rejected', formatCount(x.orphansRejected)],
        ['Drift', x.drift === null ? '–' : formatCount(x.drift), 'reconcile-drift'],
      ]),
    );
  });
}

async function cancelAction() {
  await liveAction(async (live) => {
    askCancel(false, { focus: false });
    const r = await api(`/api/admin/sales/${live.saleId}/cancel`, { method: 'POST', token: state.token });
    if (state.live !== live) return;
    if (!r.ok) return actionRefused(live, r, 'Cancelling');
    const { cancelledAt, confirmedOrders, unitsSold, queuedAtCancel, ...view } = r.data;
    liveSaleChanged(live, view);
    const el = actionResult(
      live,
      'warning',
      'cancel-report',
      h('strong', {}, `Sale cancelled at ${formatTime(cancelledAt)}. `),
      'Admissions are closed; confirmed orders stand.',
      report([
        ['Confirmed orders', formatCount(confirmedOrders), 'cancel-orders'],
        ['Units sold or held', formatCount(unitsSold), 'cancel-units'],
        ['Queued at the cancel (rejected)', formatCount(queuedAtCancel), 'cancel-queued'],
        ['Units left unsold', formatCount(view.remaining)],
      ]),
    );
    el.focus({ preventScroll: true });
  });
}

// A sale view the page learned of: shown here if it is the watched sale.
subscribe('sale', (sale) => {
  if (state.live?.saleId === sale.id) showLiveSale(sale);
});
