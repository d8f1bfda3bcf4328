import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { API_NODE_FLAGS } from '../src/config/node-flags';

const ROOT = path.join(__dirname, '..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

describe('The API process is started with the same Node flags everywhere', () => {
  it('When the API is started by Docker, compose, pm2 or the bench, then it gets exactly API_NODE_FLAGS', () => {
    const argv = JSON.stringify(['node', ...API_NODE_FLAGS, 'dist/src/api.js']).replace(/,/g, ', ');
    expect(read('Dockerfile')).toContain(`CMD ${argv}`);
    expect(read('docker-compose.yml')).toContain(`command: ${argv}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pm2 = require(path.join(ROOT, 'ecosystem.config.js')) as { apps: { script: string; node_args?: string[] }[] };
    const apis = pm2.apps.filter((a) => a.script === 'dist/src/api.js');
    expect(apis.length).toBeGreaterThan(0);
    for (const app of apis) expect(app.node_args).toEqual([...API_NODE_FLAGS]);
    // The bench adds only its census preload (`--require`, it counts Redis commands), no Node tuning.
    expect(read('bench/run.ts')).toContain("startServer('engine', 'bench/servers/engine.ts', env, [...API_NODE_FLAGS, ...censusFlags()])");
    expect(read('bench/harness/processes.ts')).toContain("export const censusFlags = (): string[] => ['--require', CENSUS_PRELOAD];");
  });

  it('When node is started with API_NODE_FLAGS, then this Node accepts them (V8 flags can vanish between versions)', () => {
    const run = spawnSync(process.execPath, [...API_NODE_FLAGS, '-e', 'process.stdout.write("ok")'], { encoding: 'utf8' });
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ status: 0, stdout: 'ok', stderr: '' });
  });
});
