import { Metric, Registry } from 'prom-client';

/**
 * Counters and a histogram for the attempt path, where every microsecond shows in the
 * bench: an observation is a plain number added (a label is a Map lookup, a bucket a short
 * loop), and prom-client's text is built from these numbers only when Prometheus scrapes.
 * (prom-client's own `inc` and `observe` hash their labels and validate them on every call.)
 * Registered as ordinary metrics: the registry only calls `get()`.
 */

type MetricJson = { name: string; help: string; type: 'counter' | 'histogram'; aggregator: 'sum'; values: { labels: Record<string, string | number>; value: number; metricName?: string }[] };

function register(registry: Registry, metric: { name: string; get: () => Promise<MetricJson> }): void {
  // The registry's contract is `name` plus `get()` (registry.js); the Metric class type asks for more.
  registry.registerMetric(metric as unknown as Metric);
}

/** A counter with one label; `count(value)` adds 1 to that label's series. */
export function tallyCounter(registry: Registry, opts: { name: string; help: string; label: string; initial?: string[] }): (labelValue: string) => void {
  const counts = new Map<string, number>((opts.initial ?? []).map((v) => [v, 0]));
  register(registry, {
    name: opts.name,
    get: async () => ({
      name: opts.name,
      help: opts.help,
      type: 'counter',
      aggregator: 'sum',
      values: [...counts].map(([v, n]) => ({ labels: { [opts.label]: v }, value: n })),
    }),
  });
  return (labelValue) => void counts.set(labelValue, (counts.get(labelValue) ?? 0) + 1);
}

/** A histogram without labels; `observe(value)` in its unit (seconds). */
export function tallyHistogram(registry: Registry, opts: { name: string; help: string; buckets: readonly number[] }): (value: number) => void {
  const bounds = [...opts.buckets].sort((a, b) => a - b);
  const perBucket = new Array<number>(bounds.length + 1).fill(0); // the last: above every bound
  let sum = 0;
  let count = 0;
  register(registry, {
    name: opts.name,
    get: async (): Promise<MetricJson> => {
      let cumulative = 0;
      const buckets = bounds.map((le, i) => ({ labels: { le }, value: (cumulative += perBucket[i]!), metricName: `${opts.name}_bucket` }));
      return {
        name: opts.name,
        help: opts.help,
        type: 'histogram',
        aggregator: 'sum',
        values: [
          ...buckets,
          { labels: { le: '+Inf' }, value: count, metricName: `${opts.name}_bucket` },
          { labels: {}, value: sum, metricName: `${opts.name}_sum` },
          { labels: {}, value: count, metricName: `${opts.name}_count` },
        ],
      };
    },
  });
  return (value) => {
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    perBucket[i]! += 1;
    sum += value;
    count += 1;
  };
}
