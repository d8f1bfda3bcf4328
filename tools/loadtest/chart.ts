/**
 * Inline SVG line charts for the HTML report: no scripts, no <marker>/url() references (the
 * report must fetch nothing), each series told apart by colour, dash AND marker so lines that
 * lie on top of each other stay readable, in print and for colour-blind readers.
 */

export type MarkerShape = 'circle' | 'square' | 'triangle' | 'diamond' | 'cross';
export type LineStyle = { color: string; dash: string; marker: MarkerShape; width: number };
export type LineSeries = { name: string; style: LineStyle; points: { x: number; y: number }[]; note?: string };

/** Styles in the order series take them. Solid/filled first; later ones dashed with hollow markers, drawn on top. */
export const LINE_STYLES: LineStyle[] = [
  { color: '#2563eb', dash: '', marker: 'circle', width: 2.5 },
  { color: '#ea580c', dash: '7 4', marker: 'square', width: 2 },
  { color: '#7c3aed', dash: '2 3', marker: 'triangle', width: 2 },
  { color: '#dc2626', dash: '10 3 2 3', marker: 'diamond', width: 2 },
  { color: '#0f766e', dash: '4 2', marker: 'cross', width: 2 },
  { color: '#6b7280', dash: '1 2', marker: 'circle', width: 2 },
];

export const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const f1 = (v: number) => v.toFixed(1);

/** A tick step of 1, 2, 2.5 or 5 x 10^k giving about `target` intervals over `range`. */
export function niceStep(range: number, target: number): number {
  if (!(range > 0)) return 1;
  const raw = range / target;
  const pow = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].find((m) => m * pow >= raw) ?? 10) * pow;
}

const decimalsOf = (step: number): number => {
  const text = String(+step.toPrecision(6));
  return text.includes('.') ? text.length - text.indexOf('.') - 1 : 0;
};

/**
 * A tick label with as many decimals as `step` needs: 1500 -> "1,500", 0.5 (step 0.25) -> "0.50".
 * With `thousands` (an axis reaching 10,000) every tick is in k: 12500 (step 2500) -> "12.5k", 10000 -> "10k".
 */
export function formatTick(v: number, step: number, thousands = false): string {
  if (thousands) return v === 0 ? '0' : `${+(v / 1000).toFixed(decimalsOf(step / 1000))}k`;
  const decimals = decimalsOf(step);
  return v.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

function marker(shape: MarkerShape, x: number, y: number, color: string, filled: boolean, title?: string): string {
  const fill = filled ? color : '#fff';
  const t = title ? `<title>${esc(title)}</title>` : '';
  const common = `fill="${fill}" stroke="${color}" stroke-width="1.5"`;
  switch (shape) {
    case 'circle':
      return `<circle cx="${f1(x)}" cy="${f1(y)}" r="3.2" ${common}>${t}</circle>`;
    case 'square':
      return `<rect x="${f1(x - 3.2)}" y="${f1(y - 3.2)}" width="6.4" height="6.4" ${common}>${t}</rect>`;
    case 'triangle':
      return `<path d="M${f1(x)},${f1(y - 4.2)}L${f1(x + 4)},${f1(y + 3)}L${f1(x - 4)},${f1(y + 3)}Z" ${common}>${t}</path>`;
    case 'diamond':
      return `<path d="M${f1(x)},${f1(y - 4.5)}L${f1(x + 4.5)},${f1(y)}L${f1(x)},${f1(y + 4.5)}L${f1(x - 4.5)},${f1(y)}Z" ${common}>${t}</path>`;
    case 'cross':
      return `<path d="M${f1(x - 3.5)},${f1(y - 3.5)}L${f1(x + 3.5)},${f1(y + 3.5)}M${f1(x - 3.5)},${f1(y + 3.5)}L${f1(x + 3.5)},${f1(y - 3.5)}" fill="none" stroke="${color}" stroke-width="2">${t}</path>`;
  }
}

/** A small swatch (line + dash + marker) for the legend. */
function swatch(style: LineStyle, filled: boolean): string {
  return (
    `<svg class="swatch" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 14" width="40" height="14" aria-hidden="true">` +
    `<line x1="1" x2="39" y1="7" y2="7" stroke="${style.color}" stroke-width="${style.width}"${style.dash ? ` stroke-dasharray="${style.dash}"` : ''}/>` +
    marker(style.marker, 20, 7, style.color, filled) +
    `</svg>`
  );
}

export type ChartOptions = {
  label: string;
  xLabel: string;
  yLabel: string;
  /** A shaded span of x, e.g. while hammering. */
  band?: { from: number; to: number; label: string };
  /** Units appended to the value in tooltips, e.g. "/s". */
  unit?: string;
};

/**
 * An SVG line chart and its HTML legend. Series after the first get hollow markers and are drawn
 * on top, so when two series overlap both stay visible.
 * @example lineChart([{ name: 'admitted', style: LINE_STYLES[0], points }], { label: 'rates', xLabel: 's', yLabel: '/s' })
 */
export function lineChart(series: LineSeries[], opts: ChartOptions): string {
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '<p class="muted">No data.</p>';
  const W = 860;
  const H = 320;
  const m = { l: 64, r: 14, t: 14, b: 46 };
  const xs = all.map((p) => p.x).concat(opts.band ? [opts.band.from, opts.band.to] : []);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1e-3);
  const yStep = niceStep(Math.max(...all.map((p) => p.y), 1), 5);
  const yMax = Math.max(yStep, Math.ceil(Math.max(...all.map((p) => p.y)) / yStep) * yStep);
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v: number) => m.t + (H - m.t - m.b) * (1 - v / yMax);

  let grid = '';
  for (let v = 0; v <= yMax + yStep / 2; v += yStep) {
    grid += `<line x1="${m.l}" x2="${W - m.r}" y1="${f1(Y(v))}" y2="${f1(Y(v))}" class="grid"/>`;
    grid += `<text x="${m.l - 6}" y="${f1(Y(v) + 4)}" class="y">${formatTick(v, yStep, yMax >= 10_000)}</text>`;
  }
  const xStep = niceStep(x1 - x0, 10);
  for (let v = Math.ceil(x0 / xStep) * xStep; v <= x1 + xStep * 1e-6; v += xStep) {
    grid += `<line x1="${f1(X(v))}" x2="${f1(X(v))}" y1="${H - m.b}" y2="${H - m.b + 4}" class="axis"/>`;
    grid += `<text x="${f1(X(v))}" y="${H - m.b + 16}" class="x">${formatTick(Math.abs(v) < xStep / 1e6 ? 0 : v, xStep)}</text>`;
  }
  const band = opts.band
    ? `<rect x="${f1(X(opts.band.from))}" y="${m.t}" width="${f1(X(opts.band.to) - X(opts.band.from))}" height="${H - m.t - m.b}" class="band"/>` +
      `<text x="${f1(X(opts.band.from) + 4)}" y="${m.t + 12}" class="bandlabel">${esc(opts.band.label)}</text>`
    : '';
  const axes =
    `<line x1="${m.l}" x2="${W - m.r}" y1="${H - m.b}" y2="${H - m.b}" class="axis"/><line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${H - m.b}" class="axis"/>` +
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 8}" class="x">${esc(opts.xLabel)}</text>` +
    `<text transform="translate(14 ${(m.t + H - m.b) / 2}) rotate(-90)" class="x">${esc(opts.yLabel)}</text>`;

  const lines = series
    .map((s, i) => {
      const st = s.style;
      const pts = s.points.map((p) => `${f1(X(p.x))},${f1(Y(p.y))}`).join(' ');
      // Markers on every point (every n-th past 60 points), but not along the zero line, where they would only be clutter.
      const every = Math.max(1, Math.ceil(s.points.length / 60));
      const dots = s.points
        .filter((p, k) => k % every === 0 && p.y !== 0)
        .map((p) => marker(st.marker, X(p.x), Y(p.y), st.color, i === 0, `${s.name} at ${p.x.toFixed(2)} s: ${Math.round(p.y).toLocaleString('en-US')}${opts.unit ?? ''}`))
        .join('');
      return `<g><polyline fill="none" stroke="${st.color}" stroke-width="${st.width}" stroke-linejoin="round"${st.dash ? ` stroke-dasharray="${st.dash}"` : ''} points="${pts}"/>${dots}</g>`;
    })
    .join('');
  const legend = series
    .map((s, i) => `<span class="key">${swatch(s.style, i === 0)}${esc(s.name)}${s.note ? ` <span class="muted">${esc(s.note)}</span>` : ''}</span>`)
    .join('');
  return (
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(opts.label)}">` +
    band +
    grid +
    axes +
    lines +
    `</svg><div class="legend">${legend}</div>`
  );
}
