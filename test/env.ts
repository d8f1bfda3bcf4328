/**
 * Tests use their own database and Redis logical database, never the ones `npm start` uses.
 * Override with TEST_DATABASE_URL / TEST_REDIS_URL.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/flashsale_test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1';
export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef';
/** Set in the `cluster` jest project (test/support/use-cluster.cjs): the run's private Redis Cluster. */
export const TEST_CLUSTER_NODES = process.env.TEST_REDIS_MODE === 'cluster' ? process.env.TEST_CLUSTER_NODES : undefined;
if (process.env.TEST_REDIS_MODE === 'cluster' && !TEST_CLUSTER_NODES) throw new Error('the cluster project runs without TEST_CLUSTER_NODES (test/global-setup-cluster.ts)');

/** The environment a test process (or a worker it spawns) runs with. */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    // A test that brings its own Redis (a private server it breaks) keeps it, cluster project or not.
    // On the cluster, the purchase queue is sharded too (one shard per master, by default).
    ...(TEST_CLUSTER_NODES && !overrides.REDIS_URL ? { REDIS_CLUSTER_NODES: TEST_CLUSTER_NODES, QUEUE_SHARDS: '3' } : {}),
    REDIS_PREFIX: 'fstest',
    JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMIT_USER_PER_MIN: '0',
    RATE_LIMIT_IP_PER_MIN: '0',
    LINE_JOIN_IP_PER_MIN: '0',
    SEED_DEMO: 'false',
    // Free ports: test files run processes side by side.
    METRICS_PORT: '0',
    WORKER_METRICS_PORT: '0',
    ...overrides,
  };
}
