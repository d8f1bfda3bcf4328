import { ChildProcess, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { waitFor } from '../helpers';
import { freePort, waitForPong } from './private-redis';
import { exited, stopProcess, track } from './processes';

const run = promisify(execFile);

/**
 * A Redis Cluster of the test run's own: `masters` redis-servers (cluster mode, no
 * replicas, no persistence) on free loopback ports in a temporary directory, joined with
 * `redis-cli --cluster create`. Stopped by PID; never the shared Redis.
 */
export type PrivateCluster = {
  nodes: { host: string; port: number }[];
  /** `host:port,host:port,...`, as REDIS_CLUSTER_NODES takes it. */
  spec: string;
  pids: () => number[];
  destroy: () => Promise<void>;
};

export async function startPrivateCluster(opts: { masters?: number; label?: string } = {}): Promise<PrivateCluster> {
  const count = opts.masters ?? 3;
  const label = opts.label ?? 'redis-cluster';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-cluster-'));
  const children: ChildProcess[] = [];
  const nodes: { host: string; port: number }[] = [];
  const destroy = async () => {
    await Promise.all(children.map((c) => stopProcess(c, 5000)));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = await freePort();
      const nodeDir = path.join(dir, String(port));
      fs.mkdirSync(nodeDir);
      const child = track(
        spawn(
          'redis-server',
          [
            '--port', String(port),
            '--bind', '127.0.0.1',
            '--dir', nodeDir,
            '--cluster-enabled', 'yes',
            '--cluster-config-file', path.join(nodeDir, 'nodes.conf'),
            '--cluster-node-timeout', '2000',
            '--save', '',
            '--appendonly', 'no',
            '--maxmemory-policy', 'noeviction',
            '--daemonize', 'no',
            '--logfile', path.join(nodeDir, 'redis.log'),
          ],
          { stdio: 'ignore' },
        ),
        `${label}:${port}`,
      );
      children.push(child);
      const died = exited(child).then(() => {
        throw new Error(`${label} node on ${port} exited at start`);
      });
      died.catch(() => undefined);
      await Promise.race([waitForPong(`redis://127.0.0.1:${port}`, 10_000, child.pid), died]);
      nodes.push({ host: '127.0.0.1', port });
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    // Every node must agree the cluster is whole before a client is let in.
    for (const n of nodes) {
      const probe = new Redis({ host: n.host, port: n.port, lazyConnect: true, maxRetriesPerRequest: 1 });
      probe.on('error', () => undefined);
      try {
        await waitFor(async () => (/cluster_state:ok/.test((await probe.call('CLUSTER', 'INFO')) as string) ? true : undefined), `cluster_state:ok on ${n.port}`, 20_000, 50);
      } finally {
        probe.disconnect();
      }
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return {
    nodes,
    spec: nodes.map((n) => `${n.host}:${n.port}`).join(','),
    pids: () => children.flatMap((c) => (c.pid !== undefined && c.exitCode === null && c.signalCode === null ? [c.pid] : [])),
    destroy,
  };
}
