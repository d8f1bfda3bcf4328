// How numbers, money, times and statuses read on every page.
import { h } from './dom.js';

// Sales carry no currency in the API; the engine's products default to USD.
const money = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' });
const count = new Intl.NumberFormat('en-US');

export const formatMoney = (cents) => money.format(Number(cents) / 100);
export const formatCount = (n) => (n === null || n === undefined || Number.isNaN(Number(n)) ? '–' : count.format(Number(n)));
export const formatDateTime = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const formatTime = (iso) => new Date(iso).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
export const shortId = (id) => String(id ?? '').slice(0, 8);

/** When something happened, as a sentence reads it: "at 14:05:09" today, else "on Nov 30, 2026, 2:05 PM". */
export const formatWhen = (iso) => (new Date(iso).toDateString() === new Date().toDateString() ? `at ${formatTime(iso)}` : `on ${formatDateTime(iso)}`);

/** 1:02:03 / 02:03 / 2d 01:02:03, rounded up so the display reads 00:00 exactly at the target. */
export function formatDuration(ms) {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86400);
  const hh = Math.floor((total % 86400) / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = total % 60;
  const p = (n) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${p(hh)}:${p(mm)}:${p(ss)}`;
  if (hh > 0) return `${hh}:${p(mm)}:${p(ss)}`;
  return `${p(mm)}:${p(ss)}`;
}

export const STATUS_LABEL = {
  upcoming: 'Upcoming',
  active: 'Live',
  sold_out: 'Sold out',
  ended: 'Ended',
  cancelled: 'Cancelled',
  queued: 'Queued',
  confirmed: 'Confirmed',
  rejected: 'Rejected',
  paid: 'Paid',
  expired: 'Expired',
};

export function badge(status, extra = {}) {
  return h('span', { class: `badge badge-${status}`, ...extra }, STATUS_LABEL[status] ?? status);
}

const pad2 = (n) => String(n).padStart(2, '0');
/** A Date as the value of an <input type="datetime-local"> (local time, minutes). */
export const toLocalInput = (d) => `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())}T${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
