// The live view's chart: admissions and confirmations per second, drawn as inline SVG from the
// samples the stats poll collects (no chart library: the page has no build step).
import { formatCount } from '../common/format.js';

/** The widest window the chart shows, in seconds; the poll keeps samples this far back. */
export const WINDOW_S = 60;

const SVG_NS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(v) {
  if (v <= 5) return 5;
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= v) return m * mag;
  return 10 * mag;
}

/** Redraws the chart of `live` (its samples and peaks) into its chart slot. */
export function drawChart(live) {
  if (!live) return;
  const W = 640;
  const H = 200;
  const pad = { l: 40, r: 10, t: 10, b: 22 };
  const iw = W - pad.l - pad.r;
  const ih = H - pad.t - pad.b;
  const now = live.samples.at(-1)?.t ?? performance.now();
  // The window grows with the history, from 10 s up to 60 s: a fresh view is not a sliver at the edge.
  const history = live.samples.length ? (now - live.samples[0].t) / 1000 : 0;
  const span = Math.min(WINDOW_S, Math.max(10, Math.ceil(history / 10) * 10));
  // The first poll is the baseline: its rates read 0, so a burst right after it still draws a line.
  const points = live.samples.filter((p) => p.t >= now - span * 1000);
  const max = niceMax(Math.max(0, ...points.map((p) => Math.max(p.aRate, p.cRate))));
  const x = (t) => pad.l + iw - ((now - t) / (span * 1000)) * iw;
  const y = (v) => pad.t + ih - (v / max) * ih;
  const line = (key) => points.map((p) => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');

  const root = svg('svg', {
    class: 'live-chart',
    viewBox: `0 0 ${W} ${H}`,
    role: 'img',
    'data-testid': 'live-chart',
    'data-points': Math.max(0, points.length - 1),
    'data-peak-admitted': live.peak.admitted.toFixed(2),
    'data-peak-confirmed': live.peak.confirmed.toFixed(2),
    'aria-label': `Admissions and confirmations per second over the last ${span} seconds. Now: ${(points.at(-1)?.aRate ?? 0).toFixed(1)} admitted and ${(points.at(-1)?.cRate ?? 0).toFixed(1)} confirmed per second; peak ${live.peak.admitted.toFixed(1)} admitted per second.`,
  });
  for (const f of [0, 0.5, 1]) {
    const yy = y(max * f);
    root.append(svg('line', { class: 'grid-line', x1: pad.l, x2: W - pad.r, y1: yy, y2: yy }));
    root.append(svg('text', { class: 'axis-label', x: pad.l - 6, y: yy + 4, 'text-anchor': 'end' }, formatCount(Math.round(max * f * 10) / 10)));
  }
  for (const [secs, anchor] of [
    [span, 'start'],
    [span / 2, 'middle'],
    [0, 'end'],
  ]) {
    root.append(svg('text', { class: 'axis-label', x: x(now - secs * 1000), y: H - 6, 'text-anchor': anchor }, secs ? `−${secs}s` : 'now'));
  }
  if (points.length > 1) {
    const first = points[0];
    const last = points.at(-1);
    root.append(svg('polygon', { class: 'area-admitted', points: `${x(first.t)},${y(0)} ${line('aRate')} ${x(last.t)},${y(0)}` }));
    root.append(svg('polyline', { class: 'series-admitted', 'data-series': 'admitted', points: line('aRate') }));
    root.append(svg('polyline', { class: 'series-confirmed', 'data-series': 'confirmed', points: line('cRate') }));
    root.append(svg('circle', { class: 'dot-admitted', cx: x(last.t), cy: y(last.aRate), r: 3.5 }));
    root.append(svg('circle', { class: 'dot-confirmed', cx: x(last.t), cy: y(last.cRate), r: 3.5 }));
  } else {
    root.append(svg('text', { class: 'axis-label', x: pad.l + iw / 2, y: pad.t + ih / 2, 'text-anchor': 'middle' }, 'Collecting samples…'));
  }
  live.refs.chart.replaceChildren(root);
}
