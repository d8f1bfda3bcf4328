import type { SaleAudit } from '../../src/modules/sales/audit';
import type { HammerMode } from './args';
import { esc, formatTick, lineChart, LINE_STYLES, LineSeries, LineStyle, niceStep } from './chart';
import type { SettleOutcome } from './settle';
import type { ClientTimeline } from './timeline';
import type { Verdict } from './verdict';

/** Response times (ms) fall into these log-ish buckets: [edge[i-1], edge[i]). */
export const LATENCY_EDGES_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];

export type LatencyBucket = { label: string; fromMs: number; toMs: number | null; count: number };

export type QueueCounts = { waiting: number; active: number; delayed: number; failed: number };

/** The JSON result of one run; the HTML report is rendered from it alone. */
export type LoadtestResult = {
  runId: string;
  startedAt: string;
  finishedAt: string;
  target: string;
  sale: { id: string; created: boolean; stock: number; perUserLimit: number; listed: boolean; holdSeconds: number };
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
    /** When hammering started (epoch ms): 0 s on the report's time axis. */
    startedAtMs: number;
    /** When its last reply came (epoch ms). */
    lastReplyAtMs: number;
    /** Replies per bucket, in the same buckets as `audit.timeline`. */
    timeline: ClientTimeline;
    /** Why hammering ended before its target, if it did. */
    stoppedEarly?: string;
  };
  drain: { drained: boolean; waitedMs: number; lastQueue: QueueCounts | null };
  finals: { confirmed: number; rejected: Record<string, number>; queued: number; notFound: number; pollMs: number };
  /** The audit right after the run, before settling: what the verdict judged. */
  audit: SaleAudit;
  verdict: Verdict;
  settle: SettleOutcome;
  /** The verdict and the settle check both passed (the exit code). */
  ok: boolean;
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
    ['sale', `${r.sale.id} (${r.sale.created ? 'created for this run' : 'existing'}, ${r.sale.listed ? 'listed in the shop' : 'unlisted: not in GET /api/sales, reachable by id'})`],
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
    [
      'units',
      `ordered in PostgreSQL ${n(r.audit.orders.units)} of ${n(r.audit.stock)} (${n(r.audit.orders.count)} orders; held ${n(r.audit.units.held)}, ` +
        `sold ${n(r.audit.units.sold)}, returned ${n(r.audit.units.returned)})`,
    ],
    ['remaining', `Redis ${r.audit.remaining.redis ?? 'missing'}, PostgreSQL ${r.audit.remaining.postgres}`],
    ['202 -> decided', `p50 ${r.audit.decisionLatencyMs.p50} ms, p99 ${r.audit.decisionLatencyMs.p99} ms, max ${r.audit.decisionLatencyMs.max} ms`],
    ['audit', `${r.verdict.ok ? 'PASS' : 'FAIL'} (${passed}/${r.verdict.checks.length} checks passed)`],
    ['settle', `${r.settle.mode}: ${r.settle.check.skipped ? 'nothing to check' : r.settle.check.ok ? 'PASS' : 'FAIL'}`],
  ];
}

/** The settle as label/value rows (text summary and HTML). */
export function settleRows(r: LoadtestResult): [string, string][] {
  const s = r.settle;
  const seen = `${n(s.seen.purchases)} purchases (${n(s.seen.units)} units) seen confirmed`;
  const undecided = s.undecided ? `; ${n(s.undecided)} admitted purchase(s) never seen decided were not settled` : '';
  if (s.mode === 'leave') {
    return [
      ['settle', `leave: ${seen}, left unpaid${undecided}`],
      ['holds', `expire ${s.holdSeconds} s after their confirmation; then their units come back on sale`],
    ];
  }
  const secs = s.durationMs / 1000;
  const rate = s.seen.purchases && secs > 0 ? `, ${n(Math.round(s.seen.purchases / secs))}/s` : '';
  const done = s.mode === 'pay' ? 'paid' : 'cancelled';
  const failed = s.failed.purchases ? ` (${codes(s.failed.byCode)}; e.g. ${s.failed.sample.join(', ')})` : '';
  const rows: [string, string][] = [
    ['settle', `${s.mode}: ${seen}${undecided}`],
    ['settled', `${n(s.settled.purchases)} ${done}, ${n(s.expired.purchases)} PURCHASE_EXPIRED, ${n(s.failed.purchases)} failed${failed} in ${secs.toFixed(1)} s${rate}`],
  ];
  if (s.after) {
    rows.push([
      'after settling',
      `holds open ${n(s.after.held)}, units sold ${n(s.after.sold)}, returned ${n(s.after.returned)}; remaining Redis ${s.after.remaining.redis ?? 'missing'}, PostgreSQL ${s.after.remaining.postgres}`,
    ]);
  }
  return rows;
}

/** The plain-text summary table and the list of checks. */
export function formatSummary(r: LoadtestResult): string {
  const rows = summaryRows(r);
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  const checks = r.verdict.checks.map((c) => `  ${c.skipped ? 'skip' : c.ok ? 'ok  ' : 'FAIL'}  ${c.name}: ${c.detail}`);
  const settle = settleRows(r);
  const sw = Math.max(...settle.map(([label]) => label.length));
  const c = r.settle.check;
  return [
    `Load test ${r.runId}`,
    ...lines,
    '',
    'Checks (right after the run, before settling)',
    ...checks,
    '',
    `Settle (--settle ${r.settle.mode})`,
    ...settle.map(([label, value]) => `  ${label.padEnd(sw)}  ${value}`),
    `  ${c.skipped ? 'skip' : c.ok ? 'ok  ' : 'FAIL'}  settled as expected: ${c.detail}`,
    '',
    `Result: ${r.ok ? 'PASS' : 'FAIL'}${r.ok ? '' : ` (${[!r.verdict.ok && 'audit', !c.ok && 'settle'].filter(Boolean).join(' and ')} failed)`}`,
  ].join('\n');
}

const PALETTE_BAR = '#2563eb';

function histogramSvg(buckets: LatencyBucket[]): string {
  const W = 860;
  const H = 260;
  const m = { l: 56, r: 10, t: 16, b: 44 };
  const step = Math.max(1, niceStep(Math.max(1, ...buckets.map((b) => b.count)), 4));
  const max = Math.ceil(Math.max(1, ...buckets.map((b) => b.count)) / step) * step;
  const bw = (W - m.l - m.r) / buckets.length;
  const ih = H - m.t - m.b;
  let grid = '';
  for (let v = 0; v <= max; v += step) {
    const y = m.t + ih - (ih * v) / max;
    grid += `<line x1="${m.l}" x2="${W - m.r}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" class="grid"/>`;
    grid += `<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" class="y">${formatTick(v, step, max >= 10_000)}</text>`;
  }
  const bars = buckets
    .map((b, i) => {
      const h = (b.count / max) * ih;
      const x = m.l + i * bw;
      const y = m.t + ih - h;
      return (
        `<rect x="${(x + 3).toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 6).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE_BAR}"><title>${esc(b.label)} ms: ${b.count}</title></rect>` +
        (b.count ? `<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" class="v">${n(b.count)}</text>` : '') +
        `<text x="${(x + bw / 2).toFixed(1)}" y="${H - m.b + 16}" class="x">${esc(b.label)}</text>`
      );
    })
    .join('');
  return (
    `<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="HTTP response time histogram">` +
    grid +
    bars +
    `<text x="${(m.l + W - m.r) / 2}" y="${H - 6}" class="x">response time (ms)</text></svg>`
  );
}

/** The over-time charts' data: rates per second in buckets of `bucketMs`, x in seconds since hammering started. */
export type OverTime = {
  bucketMs: number;
  /** Buckets drawn (zero-filled from the first bucket of the run to the last with an event). */
  buckets: number;
  /** Client 202s against the worker's decisions (audit). */
  decisions: LineSeries[];
  /** Every reply to an attempt (client). */
  replies: LineSeries[];
  /** Decisions of the sale before this run (an existing sale), left out of the chart. */
  earlierDecisions: number;
};

/** Builds the over-time series from a result: one point per bucket, counts turned into per-second rates. */
export function overTime(r: LoadtestResult): OverTime {
  const client = r.hammer.timeline;
  const audit = r.audit.timeline;
  const bucketMs = client.bucketMs;
  const t0 = Math.floor(r.hammer.startedAtMs / bucketMs) * bucketMs;
  const decided = audit.points.filter((p) => p.atMs >= t0);
  const earlierDecisions = audit.points.filter((p) => p.atMs < t0).reduce((a, p) => a + p.confirmed + p.rejected, 0);
  const last = Math.max(t0, ...client.points.map((p) => p.atMs), ...decided.map((p) => p.atMs));
  const starts: number[] = [];
  for (let at = t0; at <= last; at += bucketMs) starts.push(at);
  const perS = 1000 / bucketMs;
  const series = (name: string, style: LineStyle, countAt: Map<number, number>): LineSeries => {
    const total = [...countAt.values()].reduce((a, b) => a + b, 0);
    return {
      name,
      style,
      note: `${n(total)} in all`,
      points: starts.map((at) => ({ x: (at + bucketMs / 2 - r.hammer.startedAtMs) / 1000, y: (countAt.get(at) ?? 0) * perS })),
    };
  };
  const byAt = <P extends { atMs: number }>(points: P[], count: (p: P) => number) => new Map(points.map((p) => [p.atMs, count(p)]));

  const admitted = byAt(client.points, (p) => p.admitted);
  const decisions = [
    series('admitted (202), client side', LINE_STYLES[0]!, admitted),
    series('confirmed by the worker (audit)', LINE_STYLES[1]!, byAt(decided, (p) => p.confirmed)),
  ];
  if (decided.some((p) => p.rejected > 0)) decisions.push(series('rejected by the worker (audit)', LINE_STYLES[2]!, byAt(decided, (p) => p.rejected)));

  const codeTotals = new Map<string, number>();
  for (const p of client.points) for (const [code, k] of Object.entries(p.refused)) codeTotals.set(code, (codeTotals.get(code) ?? 0) + k);
  const refusalStyles = [LINE_STYLES[3]!, LINE_STYLES[4]!, LINE_STYLES[2]!, LINE_STYLES[1]!];
  const replies = [series('202 admitted', LINE_STYLES[0]!, admitted)];
  [...codeTotals]
    .sort((a, b) => b[1] - a[1])
    .forEach(([code], i) => replies.push(series(`409 ${code}`, refusalStyles[i % refusalStyles.length]!, byAt(client.points, (p) => p.refused[code] ?? 0))));
  if (client.points.some((p) => p.other > 0)) replies.push(series('other replies (429, 503, 5xx, ...)', LINE_STYLES[5]!, byAt(client.points, (p) => p.other)));
  return { bucketMs, buckets: starts.length, decisions, replies, earlierDecisions };
}

function overTimeHtml(r: LoadtestResult): string {
  const o = overTime(r);
  const band = { from: 0, to: (r.hammer.lastReplyAtMs - r.hammer.startedAtMs) / 1000, label: 'hammering' };
  const common = { xLabel: 'seconds since hammering started', yLabel: 'per second', band, unit: '/s' };
  return (
    `<p>Counts per ${o.bucketMs} ms bucket (${o.buckets} buckets), drawn as rates per second; the shaded span is the hammering (first attempt to last reply). ` +
    `Each series has its own colour, dash and marker: where two lie on top of each other, both markers show.` +
    (o.earlierDecisions ? ` ${n(o.earlierDecisions)} decisions of this sale made before the run are left out.` : '') +
    `</p>` +
    `<h3>Admissions and decisions</h3>` +
    `<p class="muted">Admitted: 202 replies the load generator received. Confirmed / rejected: the worker's decisions, from PostgreSQL (<code>decided_at</code>, audit <code>?bucketMs=${o.bucketMs}</code>).</p>` +
    lineChart(o.decisions, { label: 'admissions and decisions per second', ...common }) +
    `<h3>Every reply to an attempt</h3>` +
    lineChart(o.replies, { label: 'replies per second', ...common })
  );
}

/** The settle section of the HTML report. */
function settleHtml(r: LoadtestResult): string {
  const s = r.settle;
  const [cls, word] = s.check.skipped ? ['sk', 'skip'] : s.check.ok ? ['ok', 'pass'] : ['bad', 'FAIL'];
  const rows = settleRows(r)
    .map(([label, value]) => `<tr><th>${esc(label)}</th><td>${esc(value)}</td></tr>`)
    .join('');
  return `<table>${rows}<tr><th>check <span class="st ${cls}">${word}</span></th><td>${esc(s.check.detail)}</td></tr></table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:920px;color:#111827;padding:0 1rem}
h1{font-size:1.5rem;margin:0 0 .25rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}
.badge{display:inline-block;padding:.15rem .6rem;border-radius:.3rem;color:#fff;font-weight:700;margin-left:.5rem}
.pass{background:#059669}.fail{background:#dc2626}.skip{background:#9ca3af}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e5e7eb;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{width:11rem;color:#374151;font-weight:600}td.st{width:3.5rem;font-weight:700}td.st.ok{color:#059669}td.st.bad{color:#dc2626}td.st.sk{color:#6b7280}
h3{font-size:1rem;margin:1.2rem 0 .3rem}
svg.chart{width:100%;height:auto;background:#fff;border:1px solid #e5e7eb;border-radius:.3rem}
svg.chart text{font:12px system-ui,sans-serif;fill:#374151}svg.chart text.x,svg.chart text.v{text-anchor:middle}svg.chart text.y{text-anchor:end}
svg.chart .grid{stroke:#e5e7eb;stroke-width:1}svg.chart .axis{stroke:#6b7280;stroke-width:1}
svg.chart .band{fill:#f3f4f6}svg.chart text.bandlabel{fill:#6b7280;font-style:italic}
.legend{margin:.4rem 0 .2rem}.key{display:inline-block;margin-right:1.2rem;white-space:nowrap}.key svg.swatch{vertical-align:-2px;margin-right:.35rem}
th .st{font-weight:700}th .st.ok{color:#059669}th .st.bad{color:#dc2626}th .st.sk{color:#6b7280}
.muted{color:#6b7280}`;

/** A self-contained HTML report (inline CSS and SVG, no scripts, fonts or network). */
export function renderHtml(r: LoadtestResult): string {
  const ok = r.ok;
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
<h2>Audit <span class="badge ${r.verdict.ok ? 'pass' : 'fail'}">${r.verdict.ok ? 'PASS' : 'FAIL'}</span></h2>
<p class="muted">Read right after the run (queue drained, every 202 polled), before settling.</p>
<table>${checks}</table>
<h2>Settle: ${esc(r.settle.mode)} <span class="badge ${r.settle.check.skipped ? 'skip' : r.settle.check.ok ? 'pass' : 'fail'}">${r.settle.check.skipped ? 'SKIPPED' : r.settle.check.ok ? 'PASS' : 'FAIL'}</span></h2>
${settleHtml(r)}
<h2>HTTP response times</h2>
<p>All ${n(r.hammer.responses)} replies to purchase attempts: p50 ${l.p50} ms, p90 ${l.p90} ms, p99 ${l.p99} ms, max ${l.max} ms.</p>
${histogramSvg(r.hammer.latencyHistogram)}
<h2>Over time</h2>
${overTimeHtml(r)}
<h2>From 202 to decided</h2>
<p>Time from admission to the worker's decision (PostgreSQL <code>decided_at - admitted_at</code>): p50 <b>${d.p50} ms</b>, p99 <b>${d.p99} ms</b>, max ${d.max} ms.</p>
</body></html>
`;
}
