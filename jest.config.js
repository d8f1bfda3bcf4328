/** Integration tests talk to real PostgreSQL and Redis; see test/global-setup.ts. */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
};
// Records every JSON response for the conformance test (test instrumentation, not in the app).
const recorder = '<rootDir>/test/support/record-responses.cjs';

/** The suites that also run against a 3-master Redis Cluster (the same code, REDIS_CLUSTER_NODES). */
const ON_CLUSTER = ['cluster', 'http-edges', 'contention', 'admission', 'worker-faults', 'reconcile', 'holds', 'realtime', 'purchase-views', 'sale-life', 'queue-shards', 'multi-node', 'webhooks', 'dead-letters', 'metrics', 'queue-dashboard', 'waiting-room', 'waiting-room-fairness'];

module.exports = {
  testTimeout: 60000,
  // The OpenAPI conformance test runs last: it checks the responses every other test recorded.
  testSequencer: '<rootDir>/test/sequencer.js',
  projects: [
    {
      ...common,
      displayName: 'redis',
      testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts', '<rootDir>/tools/**/*.test.ts'],
      // Cluster-only checks need the cluster project's Redis Cluster.
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/cluster.test.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      setupFiles: [recorder],
    },
    {
      ...common,
      displayName: 'cluster',
      testMatch: ON_CLUSTER.map((name) => `<rootDir>/test/${name}.test.ts`),
      globalSetup: '<rootDir>/test/global-setup-cluster.ts',
      globalTeardown: '<rootDir>/test/global-teardown-cluster.ts',
      setupFiles: [recorder, '<rootDir>/test/support/use-cluster.cjs'],
    },
  ],
};
