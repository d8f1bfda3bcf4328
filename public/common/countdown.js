// Live countdowns: one shared ticker for every <time data-countdown> on the page.
import { h } from './dom.js';
import { formatDuration } from './format.js';

/**
 * A <time> that counts down to `targetMs` (one shared ticker updates them all). When it
 * reaches zero it dispatches a bubbling `countdown-done` event.
 */
export function countdown(targetMs) {
  const el = h('time', { class: 'countdown', 'data-countdown': targetMs, datetime: new Date(targetMs).toISOString() });
  el.textContent = formatDuration(targetMs - Date.now());
  return el;
}

function tickCountdowns() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-countdown]')) {
    const left = Number(el.dataset.countdown) - now;
    const text = formatDuration(left);
    if (el.textContent !== text) el.textContent = text;
    if (left <= 0 && el.dataset.done !== '1') {
      el.dataset.done = '1';
      el.dispatchEvent(new CustomEvent('countdown-done', { bubbles: true }));
    }
  }
}

let ticker;
export function startCountdowns() {
  if (!ticker) ticker = setInterval(tickCountdowns, 250);
}
