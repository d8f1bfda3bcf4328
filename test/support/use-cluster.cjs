// The `cluster` jest project: this test file's stacks and spawned processes use the run's
// private Redis Cluster (started by test/global-setup-cluster.ts) instead of the single Redis.
process.env.TEST_REDIS_MODE = 'cluster';
