// The live view's "Waiting room" card: the line's length, served, passes out, abandoned (passes
// that ran out unused) and rate, polled every second, and its controls (turn on, pause /
// resume, change the rate) through PUT / PATCH /api/admin/sales/:id/waiting-room.
import { api } from '../common/api.js';
import { h } from '../common/dom.js';
import { formatCount } from '../common/format.js';
import { state } from './state.js';
import { stat } from './stats.js';

const POLL_MS = 1000;

/** The card for `sale`; it polls while the live view shows this sale. */
export function lineCard(sale) {
  const stats = {
    joined: stat('line-joined', 'In line (joined)'),
    waiting: stat('line-waiting', 'Waiting'),
    served: stat('line-served', 'Served (turns given)'),
    passes: stat('line-passes', 'Passes out'),
    expired: stat('line-expired', 'Abandoned', { sub: 'passes that ran out unused' }),
    rate: stat('line-rate', 'Rate', { sub: 'shoppers let through per second' }),
  };
  const result = h('p', { class: 'hint', role: 'status', 'data-testid': 'line-result' });
  const rateInput = h('input', { id: 'line-rate-input', type: 'number', min: '0.1', step: '0.1', value: '50', 'data-testid': 'line-rate-input' });
  const pause = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'line-pause' }, 'Pause');
  const setRate = h('button', { class: 'btn btn-sm', type: 'submit', 'data-testid': 'line-set-rate' }, 'Set rate');
  const enable = h('button', { class: 'btn btn-sm', type: 'button', 'data-testid': 'line-enable' }, 'Turn on the waiting room');
  const controls = h(
    'form',
    { class: 'manage-form', novalidate: true, onsubmit: (e) => (e.preventDefault(), void change({ admitPerSecond: Number(rateInput.value) })) },
    h('label', { for: 'line-rate-input' }, 'Shoppers per second'),
    h('div', { class: 'inline-field' }, rateInput, setRate, pause),
  );
  const grid = h('div', { class: 'stat-grid' }, ...Object.values(stats).map((s) => s.el));
  const el = h('section', { class: 'manage', 'aria-labelledby': 'line-card-title', 'data-testid': 'line-card' }, h('h3', { id: 'line-card-title' }, 'Waiting room'));
  let paused = false;

  async function change(body, method = 'PATCH') {
    const r = await api(`/api/admin/sales/${sale.id}/waiting-room`, { method, token: state.token, body });
    result.textContent = r.ok ? 'Saved.' : `Not saved: ${r.error.message} (${r.error.code})`;
    if (r.ok) show(r.data);
  }
  function show(room) {
    paused = room.settings.paused;
    el.dataset.paused = String(paused);
    stats.joined.value.textContent = formatCount(room.live.joined);
    stats.waiting.value.textContent = formatCount(room.live.waiting);
    stats.served.value.textContent = formatCount(room.live.served);
    stats.passes.value.textContent = formatCount(room.live.passesOut);
    stats.expired.value.textContent = formatCount(room.live.expired);
    stats.rate.value.textContent = paused ? 'paused' : `${room.settings.admitPerSecond}/s`;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (document.activeElement !== rateInput) rateInput.value = String(room.settings.admitPerSecond);
    if (!el.contains(grid)) el.replaceChildren(el.firstChild, grid, controls, result);
  }
  pause.onclick = () => void change({ paused: !paused });
  enable.onclick = () => void change({ enabled: true }, 'PUT');

  async function poll() {
    if (state.live?.saleId !== sale.id || !el.isConnected) return;
    const r = await api(`/api/admin/sales/${sale.id}/waiting-room`, { token: state.token }).catch(() => null);
    if (r?.ok) show(r.data);
    setTimeout(() => void poll(), POLL_MS);
  }
  if (sale.waitingRoom) {
    el.append(h('p', { class: 'hint' }, 'Loading the line…'));
    setTimeout(() => void poll(), 0);
  } else {
    el.append(h('p', { class: 'hint' }, 'No waiting room: shoppers buy directly.'), enable, result);
    const start = el.querySelector('p');
    enable.addEventListener('click', () => {
      start?.remove();
      setTimeout(() => void poll(), 200);
    });
  }
  return el;
}
