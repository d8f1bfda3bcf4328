import type { PrivateCluster } from './faults/private-cluster';

/** Stops the run's private Redis Cluster (by PID) and removes its directory. */
export default async function globalTeardownCluster(): Promise<void> {
  await (globalThis as { testCluster?: PrivateCluster }).testCluster?.destroy();
}
