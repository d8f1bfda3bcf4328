import globalSetup from './global-setup';
import { startPrivateCluster } from './faults/private-cluster';

/**
 * The `cluster` jest project: the same database set-up, plus a private 3-master Redis
 * Cluster for this run (test/global-teardown-cluster.ts stops it by PID). Its seed nodes
 * reach the test files as TEST_CLUSTER_NODES; test/support/use-cluster.cjs switches them over.
 */
export default async function globalSetupCluster(): Promise<void> {
  await globalSetup();
  const cluster = await startPrivateCluster({ masters: 3, label: 'test-cluster' });
  (globalThis as { testCluster?: typeof cluster }).testCluster = cluster;
  process.env.TEST_CLUSTER_NODES = cluster.spec;
}
