// The waiting room in the sale view: join the line, then the place as the server tells it
// (position, ETA range, a progress bar, likely or not to get one), polled no sooner than the
// server's pollAfterMs and pushed over the socket (line:update, line:turn). While in line the
// buy form is hidden; on your turn it comes back with the pass's countdown, and buy.js sends
// the pass (passFor) as Sale-Pass.
import { api } from '../common/api.js';
import { countdown } from '../common/countdown.js';
import { h } from '../common/dom.js';
import { formatCount } from '../common/format.js';
import { knownSale } from './sales.js';
import { state, subscribe } from './state.js';

const passes = new Map(); // saleId -> { pass, expiresAtMs }
const firstPosition = new Map(); // saleId -> the position first seen (the progress bar's 0%)
let current = null; // { saleId, panel, timer }

/** The pass of the shopper's turn on this sale, if one is live. */
export function passFor(saleId) {
  const p = passes.get(saleId);
  return p && p.expiresAtMs > Date.now() ? p.pass : null;
}

const TEXT = {
  prequeue: 'You are in the line. When the sale opens, places are drawn at random among everyone who joined before it: joining early gives no advantage.',
  waiting: 'You are in the line.',
  your_turn: 'It is your turn: buy before your pass runs out.',
  passed: 'Your turn has passed (your pass was used or ran out).',
  sold_out: 'Sold out for now. If units come back, the line moves again.',
  closed: 'The line is closed (the sale ended, or the shop turned the line off).',
};

function show(saleId, s) {
  if (!current || current.saleId !== saleId) return;
  const { panel, form } = current;
  panel.dataset.state = s.state;
  if (s.state === 'your_turn' && s.pass) passes.set(saleId, { pass: s.pass, expiresAtMs: Date.parse(s.passExpiresAt) });
  if (s.position && !firstPosition.has(saleId)) firstPosition.set(saleId, s.position);
  const start = firstPosition.get(saleId) ?? s.position ?? 1;
  const pct = s.state === 'your_turn' || s.state === 'passed' ? 100 : s.position ? Math.round((100 * (start - s.position + 1)) / start) : 0;
  const bought = [...state.purchases.values()].some((p) => p.saleId === saleId && p.status !== 'rejected');
  const words = s.state === 'passed' && bought ? 'You used your turn: your purchase is below.' : TEXT[s.state] ?? s.state;
  const rows = [h('p', { class: 'line-text', 'data-testid': 'line-text' }, words)];
  if (s.state === 'waiting') {
    rows.push(h('p', { class: 'line-position' }, 'Your place: ', h('strong', { 'data-testid': 'line-position' }, formatCount(s.position)), ` (${formatCount(s.aheadOfYou)} ahead of you)`));
    if (s.etaRange) rows.push(h('p', { class: 'hint', 'data-testid': 'line-eta' }, `Your turn in about ${s.etaRange.p25}–${s.etaRange.p75} s`));
    else rows.push(h('p', { class: 'hint', 'data-testid': 'line-eta' }, 'The shop has paused the line for now; your place is kept.'));
  }
  if (s.state === 'your_turn') rows.push(h('p', { class: 'line-pass', 'data-testid': 'line-pass' }, 'Pass valid for ', countdown(Date.parse(s.passExpiresAt))));
  if (s.likelyToGetOne !== null && s.state !== 'sold_out' && s.state !== 'closed')
    rows.push(h('p', { class: `line-likely line-likely-${s.likelyToGetOne}`, 'data-testid': 'line-likely' }, s.likelyToGetOne ? 'Likely to get one: enough left for the shoppers ahead of you.' : 'Unlikely to get one: the shoppers ahead may take what is left.'));
  const bar = h('div', { class: 'meter line-meter', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct), 'aria-label': 'Progress in the line' }, h('div', { class: 'meter-fill' }));
  bar.firstElementChild.style.width = `${pct}%`;
  panel.replaceChildren(h('h2', { class: 'line-title' }, 'Waiting room'), ...rows, bar);
  form.hidden = s.state !== 'your_turn';
}

async function poll(saleId) {
  if (!current || current.saleId !== saleId) return;
  const r = await api(`/api/sales/${saleId}/line`, { token: state.token }).catch(() => null);
  if (!current || current.saleId !== saleId) return;
  let wait = 2000;
  if (r?.ok) {
    show(saleId, r.data);
    wait = r.data.pollAfterMs;
  } else if (r?.error.code === 'LINE_NOT_ENABLED') {
    current.panel.remove();
    current.form.hidden = false;
    current = null;
    return;
  } else if (r?.error.code === 'LINE_PLACE_NOT_FOUND') {
    offerJoin(saleId);
    return;
  }
  clearTimeout(current.timer);
  current.timer = setTimeout(() => void poll(saleId), wait);
}

/** The line's proof of work: a challenge for this shopper, solved here with altcha-lib (WebCrypto), as the Line-Proof header. */
async function solveProof(saleId) {
  const c = await api(`/api/sales/${saleId}/line/challenge`, { token: state.token });
  if (!c.ok || !c.data.challenge) return null;
  const [{ solveChallenge }, { deriveKey }] = await Promise.all([import('/vendor/altcha/pow.js'), import('/vendor/altcha/algorithms/web/sha.js')]);
  const solution = await solveChallenge({ challenge: c.data.challenge, deriveKey });
  if (!solution) return null;
  const json = JSON.stringify({ challenge: c.data.challenge, solution });
  return globalThis.btoa(String.fromCharCode(...new globalThis.TextEncoder().encode(json))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function offerJoin(saleId) {
  const { panel, form } = current;
  form.hidden = true;
  panel.dataset.state = 'not_joined';
  const message = h('p', { class: 'hint', role: 'alert', 'data-testid': 'line-message' });
  const button = h(
    'button',
    {
      class: 'btn btn-primary btn-lg',
      type: 'button',
      'data-testid': 'join-line',
      onclick: async () => {
        button.disabled = true;
        let r = await api(`/api/sales/${saleId}/line`, { method: 'POST', token: state.token }).catch(() => null);
        if (r?.error?.code === 'PROOF_REQUIRED') {
          message.textContent = 'Proving you are not a script (a few seconds of work for your browser)…';
          const proof = await solveProof(saleId).catch(() => null);
          r = proof ? await api(`/api/sales/${saleId}/line`, { method: 'POST', token: state.token, headers: { 'Line-Proof': proof } }).catch(() => null) : null;
          message.textContent = '';
        }
        button.disabled = false;
        if (r?.ok) {
          state.socket?.emit('line:watch', { saleId }, () => undefined);
          show(saleId, r.data);
          clearTimeout(current?.timer);
          if (current) current.timer = setTimeout(() => void poll(saleId), r.data.pollAfterMs);
        } else {
          message.textContent = r?.error.message ?? 'The shop cannot be reached right now.';
        }
      },
    },
    'Join the line',
  );
  panel.replaceChildren(h('h2', { class: 'line-title' }, 'Waiting room'), h('p', { class: 'line-text' }, 'This drop has a waiting room: join the line and buy when your turn comes.'), button, message);
}

subscribe('detail', (d) => {
  if (current) clearTimeout(current.timer);
  current = null;
  // Only a sale with a waiting room has a line (a read of the line would be a 409 otherwise).
  if (!d || !state.token || !knownSale(d.saleId)?.waitingRoom) return;
  const panel = h('section', { class: 'line-panel', 'aria-live': 'polite', 'data-testid': 'line-panel' });
  current = { saleId: d.saleId, panel, form: d.form, timer: undefined };
  d.form.before(panel);
  void poll(d.saleId);
});

// The socket: this shopper's own place, pushed (the same body as a poll), and the turn.
subscribe('socket', (socket) => {
  if (!socket) return;
  socket.on('line:update', (s) => show(s.saleId, s));
  socket.on('line:turn', ({ saleId }) => void poll(saleId));
  socket.on('connect', () => {
    if (current) socket.emit('line:watch', { saleId: current.saleId }, () => undefined);
  });
});
