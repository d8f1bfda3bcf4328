import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('When nothing is set, then the brief defaults apply', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      port: 3000,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/flashsale',
      redis: { url: 'redis://127.0.0.1:6379' },
      trustProxyHops: 0,
      queueMaxBacklog: 100_000,
      jwtSecretIsDefault: true,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('When a variable is bad, then start-up stops with a message naming it', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT/);
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ RATE_LIMIT_USER_PER_MIN: '-1' })).toThrow(/RATE_LIMIT_USER_PER_MIN/);
    expect(() => loadConfig({ QUEUE_MAX_BACKLOG: '0' })).toThrow(/QUEUE_MAX_BACKLOG/);
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ PORT: 'x', TRUST_PROXY_HOPS: 'y' })).toThrow(/PORT[\s\S]*TRUST_PROXY_HOPS/);
  });

  it('When the metrics listeners are configured, then the defaults are loopback 9464 / 9465, and one port for both is refused', () => {
    expect(loadConfig({}).metrics).toEqual({ host: '127.0.0.1', apiPort: 9464, workerPort: 9465 });
    expect(loadConfig({}).queueDashboardReadOnly).toBe(true);
    expect(loadConfig({ QUEUE_DASHBOARD_READ_ONLY: 'false' }).queueDashboardReadOnly).toBe(false);
    expect(() => loadConfig({ METRICS_PORT: '9500', WORKER_METRICS_PORT: '9500' })).toThrow(/WORKER_METRICS_PORT/);
    expect(() => loadConfig({ METRICS_PORT: 'x' })).toThrow(/METRICS_PORT/);
    expect(loadConfig({ METRICS_PORT: '0', WORKER_METRICS_PORT: '0' }).metrics).toMatchObject({ apiPort: 0, workerPort: 0 });
  });

  it('When NODE_ENV is production without JWT_SECRET, then start-up stops', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/JWT_SECRET/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-long-enough-secret' }).jwtSecretIsDefault).toBe(false);
  });

  it('When a rate limit is 0, then it is kept as 0 (the limiter is skipped, not set to block all)', () => {
    const c = loadConfig({ RATE_LIMIT_USER_PER_MIN: '0', RATE_LIMIT_IP_PER_MIN: '0' });
    expect([c.rateLimitUserPerMin, c.rateLimitIpPerMin]).toEqual([0, 0]);
  });

  it('When webhook settings are left out, then deliveries use the documented schedule; a bad one is named', () => {
    expect(loadConfig({}).webhooks).toEqual({
      timeoutMs: 10_000,
      attempts: 12,
      backoffMs: 10_000,
      backoffMaxMs: 6 * 3600 * 1000,
      concurrency: 20,
      relayMs: 250,
      schedulerMs: 1000,
      retentionDays: 30,
      faultRelayPaused: false,
    });
    expect(() => loadConfig({ WEBHOOK_ATTEMPTS: '0' })).toThrow(/WEBHOOK_ATTEMPTS/);
    expect(() => loadConfig({ FAULT_WEBHOOK_RELAY_PAUSED: 'yes' })).toThrow(/FAULT_WEBHOOK_RELAY_PAUSED/);
  });
});
