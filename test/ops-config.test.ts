import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Stack, startStack, testConfig } from './helpers';
import { scrape } from './support/prometheus';

/**
 * Issue 14, item 5: the Prometheus config, alert rules, Grafana provisioning and the compose
 * services that run them. No docker or promtool here: each file is parsed, every file a
 * service mounts exists, the ports and paths agree with each other, and every engine metric
 * a rule or a panel names is one the engine's processes really serve (read from a live
 * scrape of an API and a worker), so a renamed metric fails here instead of silently
 * leaving an alert that never fires.
 */
const ROOT = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');
// merge: compose's `<<: *anchor` keys resolved, as docker compose does.
const yamlOf = (file: string) => parseYaml(read(file), { merge: true }) as any;

/** The engine metric families an expression names (histogram series by their family). */
const metricsIn = (expr: string) => [...new Set([...expr.matchAll(/\bflashsale_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, '')))];

describe('The operations config (ops/, docker-compose.yml)', () => {
  let stack: Stack;
  /** Every metric family an API and a worker serve, by name. */
  let served: Set<string>;
  beforeAll(async () => {
    stack = await startStack(testConfig());
    const [api, worker] = await Promise.all([scrape(stack.api.metricsUrl), scrape(stack.worker!.metricsUrl)]);
    served = new Set([...api.types.keys(), ...worker.types.keys()]);
  });
  afterAll(async () => stack?.stop());

  const compose = yamlOf('docker-compose.yml');
  const prometheus = yamlOf('ops/prometheus/prometheus.yml');
  const alerts = yamlOf('ops/prometheus/alerts.yml');
  const dashboard = JSON.parse(read('ops/grafana/dashboards/flashsale.json'));

  /** `./host:container[:ro]` volume entries of a service, as { host, container }. */
  const binds = (service: string) =>
    (compose.services[service].volumes as string[]).filter((v) => v.startsWith('./')).map((v) => ({ host: v.split(':')[0]!, container: v.split(':')[1]! }));

  it('When docker-compose.yml is read, then prometheus and grafana mount files that exist, where their configs look for them', () => {
    for (const service of ['prometheus', 'grafana']) {
      expect(compose.services[service]).toBeDefined();
      for (const b of binds(service)) expect([b.host, fs.existsSync(path.join(ROOT, b.host))]).toEqual([b.host, true]);
    }
    const promMounts = new Map(binds('prometheus').map((b) => [b.container, b.host]));
    const configFlag = (compose.services.prometheus.command as string[]).find((c) => c.startsWith('--config.file='))!;
    expect(promMounts.get(configFlag.slice('--config.file='.length))).toBe('./ops/prometheus/prometheus.yml');
    for (const rules of prometheus.rule_files as string[]) expect(promMounts.get(rules)).toBe('./ops/prometheus/alerts.yml');

    const grafanaMounts = new Map(binds('grafana').map((b) => [b.host, b.container]));
    const provider = yamlOf('ops/grafana/provisioning/dashboards/flashsale.yml').providers[0];
    expect(grafanaMounts.get('./ops/grafana/dashboards')).toBe(provider.options.path);
    expect(grafanaMounts.get('./ops/grafana/provisioning')).toBe('/etc/grafana/provisioning');
    expect(compose.services.grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${provider.options.path}/flashsale.json`);
    // Prometheus and Grafana are published on loopback only.
    for (const service of ['prometheus', 'grafana']) for (const p of compose.services[service].ports as string[]) expect(p).toMatch(/^127\.0\.0\.1:/);
  });

  it('When prometheus.yml is read, then it scrapes the api and worker services on the metrics ports they are given, and nothing publishes those ports', () => {
    const job = (name: string) => (prometheus.scrape_configs as any[]).find((j) => j.job_name === name);
    const expected = { 'flashsale-api': ['api', 'METRICS_PORT'], 'flashsale-worker': ['worker', 'WORKER_METRICS_PORT'] } as const;
    for (const [name, [service, variable]] of Object.entries(expected)) {
      const sd = job(name).dns_sd_configs[0];
      expect(sd.names).toEqual([service]);
      const env = compose.services[service].environment;
      expect([name, String(sd.port)]).toEqual([name, env[variable]]);
      expect(env.METRICS_HOST).toBe('0.0.0.0');
      // Its own settings are added to the shared ones, not in their place.
      expect(Object.keys(env)).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL', 'JWT_SECRET', 'NODE_ENV']));
      expect(compose.services[service].ports).toBeUndefined();
    }
  });

  it('When alerts.yml is read, then every rule the issue asks for is there, complete, naming only metrics the engine serves', () => {
    const rules = (alerts.groups as any[]).flatMap((g) => g.rules as any[]);
    const names = rules.map((r) => r.alert);
    for (const required of ['FlashsaleQueueBacklogGrowing', 'FlashsaleDecisionSlow', 'FlashsaleDrift', 'FlashsaleDeadLetters', 'FlashsaleWebhookFailureRatio', 'FlashsaleRedisNotPersisting']) {
      expect(names).toContain(required);
    }
    expect(new Set(names).size).toBe(names.length);
    const unknown: string[] = [];
    for (const r of rules) {
      expect([r.alert, typeof r.expr, typeof r.labels?.severity, typeof r.annotations?.summary]).toEqual([r.alert, 'string', 'string', 'string']);
      if (r.for !== undefined) expect(r.for).toMatch(/^\d+[smh]$/);
      for (const m of metricsIn(r.expr)) if (!served.has(m)) unknown.push(`${r.alert}: ${m}`);
    }
    expect(unknown).toEqual([]);
    // The drift rule holds for a minute, as the issue says.
    expect(rules.find((r) => r.alert === 'FlashsaleDrift').for).toBe('1m');
  });

  it('When the Grafana dashboard is read, then its panels use the provisioned datasource and name only metrics the engine serves', () => {
    const uid = yamlOf('ops/grafana/provisioning/datasources/prometheus.yml').datasources[0].uid;
    const panels = (dashboard.panels as any[]).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(10);
    const ids = (dashboard.panels as any[]).map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const unknown: string[] = [];
    const covered = new Set<string>();
    for (const p of panels) {
      expect([p.title, p.datasource.uid]).toEqual([p.title, uid]);
      for (const t of p.targets) for (const m of metricsIn(t.expr)) (served.has(m) ? covered : { add: (x: string) => unknown.push(`${p.title}: ${x}`) }).add(m);
    }
    expect(unknown).toEqual([]);
    // Every engine metric is on the dashboard.
    expect([...served].filter((m) => m.startsWith('flashsale_') && !covered.has(m))).toEqual([]);
  });

  it('When docs/operations.md is read, then it explains every alert rule', () => {
    const doc = read('docs/operations.md');
    for (const r of (alerts.groups as any[]).flatMap((g) => g.rules as any[])) expect([r.alert, doc.includes(r.alert)]).toEqual([r.alert, true]);
  });
});
