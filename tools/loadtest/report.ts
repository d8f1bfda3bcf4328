import type { SaleAudit } from '../../src/modules/sales/audit';
import type { HammerMode } from './args';
import type { Verdict } from './verdict';

/** Response times (ms) fall into these log-ish buckets: [edge[i-1], edge[i]). */
export const LATENCY_EDGES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];

export type LatencyBucket = { label: string; fromMs: number; toMs: number | null; count: number };

/** Client-side replies received in one epoch second. */
export type SecondCounts = { second: number; admitted: number; refused: Record<string, number>; other: number };

export type QueueCounts = { waiting: number; active: number; delayed: number; failed: number };

/** The JSON result of one run; the HTML report is rendered from it alone. */
export type LoadtestResult = {
  runId: string;
  startedAt: string;
  finishedAt: string;
  target: string;
  sale: { id: string; created: boolean; stock: number; perUserLimit: number };
  settings: { users: number; connections: number; quantity: number; mode: HammerMode; drainTimeoutS: number };
  hammer: {
    durationS: number;
    attemptsSent: number;
    responses: number;
    reqPerSec: number;
    /** Replies by HTTP status ("202", "409", "429", ...). */
    statusCounts: Record<string, number>;
    /** 409 replies by error code. */
    refusals: Record<string, number>;
    /** Connection errors and timeouts (autocannon). */
    errors: number;
    timeouts: number;
    /** Purchase attempts sent that never got a reply. */
    unanswered: number;
    latencyMs: { p50: number; p90: number; p99: number; max: number };
    latencyHistogram: LatencyBucket[];
    perSecond: SecondCounts[];
    /** Why hammering ended before its target, if it did. */
    stoppedEarly?: string;
  };
  drain: { drained: boolean; waitedMs: number; lastQueue: QueueCounts | null };
  finals: { confirmed: number; rejected: Record<string, number>; queued: number; notFound: number; pollMs: number };
  audit: SaleAudit;
  verdict: Verdict;
};

export function latencyBuckets(): LatencyBucket[] {
  const edges = [0, ...LATENCY_EDGES_MS];
  return edges.map((from, i) => {
    const to = edges[i + 1] ?? null;
    const fmt = (ms: number) => (ms >= 1000 ? `${ms / 1000}s` : `${ms}`);
    return { label: to === null ? `≥${fmt(from)}` : `${fmt(from)}–${fmt(to)}`, fromMs: from, toMs: to, count: 0 };
  });
}

export function bucketIndex(ms: number): number {
  const i = LATENCY_EDGES_MS.findIndex((edge) => ms < edge);
  return i === -1 ? LATENCY_EDGES_MS.length : i;
}

const n = (x: number) => x.toLocaleString('en-US');
const codes = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${n(v)}`)
    .join(', ') || 'none';

/** The summary as label/value rows: printed as a table on stdout and in the HTML report. */
export function summaryRows(r: LoadtestResult): [string, string][] {
  const h = r.hammer;
  const s = h.statusCounts;
  const other = Object.entries(s)
    .filter(([code]) => code !== '202' && code !== '409')
    .map(([code, count]) => `${code}: ${n(count)}`);
  const passed = r.verdict.checks.filter((c) => c.ok).length;
  const rejected = Object.values(r.finals.rejected).reduce((a, b) => a + b, 0);
  const goal = r.settings.mode.kind === 'attempts' ? `${n(r.settings.mode.count)} attempts` : `${r.settings.mode.seconds} s`;
  return [
    ['target', r.target],
    ['sale', `${r.sale.id} (${r.sale.created ? 'created for this run' : 'existing'})`],
    ['stock / limit', `${n(r.sale.stock)} units, ${r.sale.perUserLimit} per shopper, ${r.settings.quantity} per attempt`],
    ['load', `${n(r.settings.users)} shoppers, ${r.settings.connections} connections, goal ${goal}`],
    ['attempts', `${n(h.attemptsSent)} sent, ${n(h.responses)} answered in ${h.durationS.toFixed(1)} s (${n(Math.round(h.reqPerSec))} req/s)`],
    ['202 admitted', n(s['202'] ?? 0)],
    ['409 refused', `${n(s['409'] ?? 0)} (${codes(h.refusals)})`],
    ['other replies', [...other, `connection errors: ${n(h.errors - h.timeouts)}`, `timeouts: ${n(h.timeouts)}`, `unanswered: ${n(h.unanswered)}`].join(', ')],
    ['HTTP latency', `p50 ${h.latencyMs.p50} ms, p90 ${h.latencyMs.p90} ms, p99 ${h.latencyMs.p99} ms, max ${h.latencyMs.max} ms`],
    ...(h.stoppedEarly ? ([['stopped early', h.stoppedEarly]] as [string, string][]) : []),
    ['queue drained', r.drain.drained ? `yes, after ${(r.drain.waitedMs / 1000).toFixed(1)} s` : `NO (gave up after ${(r.drain.waitedMs / 1000).toFixed(1)} s)`],
    [
      'final statuses',
      `confirmed ${n(r.finals.confirmed)}, rejected ${n(rejected)}${rejected ? ` (${codes(r.finals.rejected)})` : ''}, ` +
        `still queued ${n(r.finals.queued)}, not found ${n(r.finals.notFound)}`,
    ],
    ['units', `ordered in PostgreSQL ${n(r.audit.unitsOrdered)} of ${n(r.audit.stock)} (${n(r.audit.orders)} orders)`],
    ['remaining', `Redis ${r.audit.remaining.redis ?? 'missing'}, PostgreSQL ${r.audit.remaining.postgres}`],
    ['202 -> decided', `p50 ${r.audit.decisionLatencyMs.p50} ms, p99 ${r.audit.decisionLatencyMs.p99} ms, max ${r.audit.decisionLatencyMs.max} ms`],
    ['audit', `${r.verdict.ok ? 'PASS' : 'FAIL'} (${passed}/${r.verdict.checks.length} checks passed)`],
  ];
}

/** The plain-text summary table and the list of checks. */
export function formatSummary(r: LoadtestResult): string {
  const rows = summaryRows(r);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  const checks = r.verdict.checks.map((c) => `  ${c.skipped ? 'skip' : c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
  return [`Load test ${r.runId}`, ...lines, '', 'Checks', ...checks].join('\n');
}

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
const PALETTE = ['#2563eb', '#dc2626', '#f59e0b', '#7c3aed', '#db2777', '#0891b2', '#65a30d', '#9ca3af', '#92400e'];

function histogramSvg(buckets: LatencyBucket[]): string {
  const W = 860;
  const H = 260;
  const m = { l: 56, r: 10, t: 16, b: 44 };
  const max = Math.max(1, ...buckets.map((b) => b.count));
  const bw = (W - m.l - m.r) / buckets.length;
  const ih = H - m.t - m.b;
  const bars = buckets
    .map((b, i) => {
      const h = (b.count / max) * ih;
      const x = m.l + i * bw;
      const y = m.t + ih - h;
      return (
        `<rect x="${(x + 3).toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 6).toFixed(1)}" height="${h.toFixed(1)}" fill="#2563eb"><title>${esc(b.label)} ms: ${b.count}</title></rect>` +
        (b.count ? `<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" class="v">${n(b.count)}</text>` : '') +
        `<text x="${(x + bw / 2).toFixed(1)}" y="${H - m.b + 16}" class="x">${esc(b.label)}</text>`
      );
    })
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="HTTP response time histogram">` +
    axes(W, H, m, max) +
    bars +
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" class="x">response time (ms)</text></svg>`
  );
}

function axes(W: number, H: number, m: { l: number; r: number; t: number; b: number }, max: number): string {
  const ih = H - m.t - m.b;
  let out = '';
  for (let i = 0; i <= 4; i++) {
    const y = m.t + ih - (ih * i) / 4;
    out += `<line x1="${m.l}" x2="${W - m.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/>`;
    out += `<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" class="y">${n(Math.round((max * i) / 4))}</text>`;
  }
  return out;
}

type Series = { name: string; values: Map<number, number> };

function timelineSvg(series: Series[]): string {
  const seconds = series.flatMap((s) => [...s.values.keys()]);
  if (seconds.length === 0) return '<p>No data.</p>';
  const t0 = Math.min(...seconds);
  const t1 = Math.max(...seconds);
  const W = 860;
  const H = 300;
  const m = { l: 56, r: 10, t: 16, b: 40 };
  const max = Math.max(1, ...series.flatMap((s) => [...s.values.values()]));
  const span = Math.max(1, t1 - t0);
  const x = (t: number) => m.l + ((t - t0) / span) * (W - m.l - m.r);
  const y = (v: number) => m.t + (H - m.t - m.b) * (1 - v / max);
  const xStep = Math.max(1, Math.ceil(span / 12));
  let ticks = '';
  for (let t = t0; t <= t1; t += xStep) ticks += `<text x="${x(t).toFixed(1)}" y="${H - m.b + 16}" class="x">${t - t0}</text>`;
  const lines = series
    .map((s, i) => {
      const color = PALETTE[i % PALETTE.length]!;
      const pts: string[] = [];
      for (let t = t0; t <= t1; t++) pts.push(`${x(t).toFixed(1)},${y(s.values.get(t) ?? 0).toFixed(1)}`);
      const dots =
        span <= 60
          ? [...s.values].map(([t, v]) => `<circle cx="${x(t).toFixed(1)}" cy="${y(v).toFixed(1)}" r="2.5" fill="${color}"><title>${esc(s.name)} at +${t - t0}s: ${v}</title></circle>`).join('')
          : '';
      return `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>${dots}`;
    })
    .join('');
  const legend = series
    .map((s, i) => `<span class="key"><i style="background:${PALETTE[i % PALETTE.length]}"></i>${esc(s.name)}</span>`)
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="events per second">` +
    axes(W, H, m, max) +
    ticks +
    lines +
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" class="x">seconds since the first event (${esc(new Date(t0 * 1000).toISOString())})</text></svg>` +
    `<div class="legend">${legend}</div>`
  );
}

function timelineSeries(r: LoadtestResult): Series[] {
  const admitted: Series = { name: 'admitted (202)', values: new Map() };
  const refused = new Map<string, Series>();
  const other: Series = { name: 'other replies (429/503/5xx)', values: new Map() };
  for (const s of r.hammer.perSecond) {
    if (s.admitted) admitted.values.set(s.second, s.admitted);
    for (const [code, count] of Object.entries(s.refused)) {
      const series = refused.get(code) ?? { name: `409 ${code}`, values: new Map<number, number>() };
      series.values.set(s.second, count);
      refused.set(code, series);
    }
    if (s.other) other.values.set(s.second, s.other);
  }
  const confirmed: Series = { name: 'confirmed by the worker', values: new Map() };
  const rejected: Series = { name: 'rejected by the worker', values: new Map() };
  for (const t of r.audit.timeline) {
    if (t.confirmed) confirmed.values.set(t.second, t.confirmed);
    if (t.rejected) rejected.values.set(t.second, t.rejected);
  }
  return [admitted, ...refused.values(), other, confirmed, rejected].filter((s) => s.values.size > 0);
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:920px;color:#111827;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:.3rem;color:#fff;font-weight:700;margin-left:.5rem}
.pass{background:#059669}.fail{background:#dc2626}.skip{background:#9ca3af}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e5e7eb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{width:11rem;color:#374151;font-weight:600}td.st{width:3.5rem;font-weight:700}td.st.ok{color:#059669}td.st.bad{color:#dc2626}td.st.sk{color:#6b7280}
svg{width:100%;height:auto;background:#fafafa;border:1px solid #e5e7eb;border-radius:.3rem}
svg text{font:11px system-ui,sans-serif;fill:#374151}svg text.x,svg text.v{text-anchor:middle}svg text.y{text-anchor:end}
svg .grid{stroke:#e5e7eb;stroke-width:1}
.legend{margin:.4rem 0}.key{display:inline-block;margin-right:1rem}.key i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px;border-radius:2px}
.muted{color:#6b7280}`;

/** A self-contained HTML report (inline CSS and SVG, no scripts, fonts or network). */
export function renderHtml(r: LoadtestResult): string {
  const ok = r.verdict.ok;
  const rows = summaryRows(r)
    .map(([label, value]) => `<tr><th>${esc(label)}</th><td>${esc(value)}</td></tr>`)
    .join('');
  const checks = r.verdict.checks
    .map((c) => {
      const [cls, word] = c.skipped ? ['sk', 'skip'] : c.ok ? ['ok', 'pass'] : ['bad', 'FAIL'];
      return `<tr><td class="st ${cls}">${word}</td><th>${esc(c.name)}</th><td>${esc(c.detail)}</td></tr>`;
    })
    .join('');
  const d = r.audit.decisionLatencyMs;
  const l = r.hammer.latencyMs;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Load test ${esc(r.runId)}: ${ok ? 'PASS' : 'FAIL'}</title><style>${CSS}</style></head>
<body>
<h1>Flash-sale load test <span class="badge ${ok ? 'pass' : 'fail'}">${ok ? 'PASS' : 'FAIL'}</span></h1>
<p class="muted">Run ${esc(r.runId)} against ${esc(r.target)}, ${esc(r.startedAt)} – ${esc(r.finishedAt)}</p>
<h2>Summary</h2><table>${rows}</table>
<h2>Audit</h2><table>${checks}</table>
<h2>HTTP response times</h2>
<p>All ${n(r.hammer.responses)} replies to purchase attempts: p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms.</p>
${histogramSvg(r.hammer.latencyHistogram)}
<h2>Over time (per second)</h2>
<p>Client side: admissions (202), refusals (409 by code) and other replies. Worker side (from PostgreSQL): purchases confirmed and rejected.</p>
${timelineSvg(timelineSeries(r))}
<h2>From 202 to decided</h2>
<p>Time from admission to the worker's decision (PostgreSQL <code>decided_at - admitted_at</code>): p50 <b>${d.p50} ms</b>, p99 <b>${d.p99} ms</b>, max ${d.max} ms.</p>
</body></html>
`;
}
