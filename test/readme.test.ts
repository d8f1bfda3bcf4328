import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { operations, responsesOf } from '../src/http/openapi';
import { TEST_DATABASE_URL, testEnv } from './env';
import { waitFor } from './helpers';

const ROOT = path.join(__dirname, '..');
const MARKER = '<!-- walk-through: test/readme.test.ts runs the next block -->';

/** The README's curl walk-through, exactly as a newcomer pastes it. */
function walkThrough(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const after = readme.slice(readme.indexOf(MARKER) + MARKER.length);
  const block = /```bash\n([\s\S]*?)```/.exec(after);
  if (readme.indexOf(MARKER) < 0 || !block) throw new Error('README walk-through block not found');
  return block[1]!;
}

describe('When a newcomer runs the README walk-through against `npm start`', () => {
  const dbName = `flashsale_readme_${randomUUID().slice(0, 8)}`;
  const dbUrl = TEST_DATABASE_URL.replace(/\/[^/]+$/, `/${dbName}`);
  const env = testEnv({ DATABASE_URL: dbUrl, REDIS_PREFIX: `readme${dbName.slice(-8)}`, QUEUE_NAME: `readme-${dbName}`, SEED_DEMO: 'true' });
  let child: ReturnType<typeof spawn> | undefined;
  let base = '';

  beforeAll(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src', 'main.ts')], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await waitFor(async () => (/Ctrl-C/.test(out) ? true : undefined), `the start-up banner (output so far: ${out})`, 30_000, 100);
    base = /up at (http:\/\/localhost:\d+)/.exec(out)![1]!;
  }, 40_000);
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGTERM');
      await gone;
    }
    const admin = new Client({ connectionString: TEST_DATABASE_URL.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  });

  it.each([1, 2])('then run %i of the block, as written, ends with the purchase paid (every check true)', (run) => {
    // -e and pipefail: any failed step (a jq -e check, a missing id) fails the run.
    const r = spawnSync('bash', ['-e', '-o', 'pipefail', '-c', walkThrough()], {
      cwd: ROOT,
      env: { ...process.env, ...env, BASE: base },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    expect({ run, status: r.status, output: r.status === 0 ? '' : output }).toEqual({ run, status: 0, output: '' });
    expect(r.stdout).toMatch(/^confirmed$/m);
    // Every jq -e check printed true (and none false).
    expect(r.stdout.match(/^true$/gm)?.length).toBe(3);
    expect(r.stdout).not.toMatch(/^false$/m);
  });
});

describe('The README error list', () => {
  it('When the API can answer an error code (every code the OpenAPI document lists, and ROUTE_NOT_FOUND), then the README names it', () => {
    const codes = new Set<string>(['ROUTE_NOT_FOUND']);
    for (const op of operations) for (const r of Object.values(responsesOf(op))) for (const c of r.codes ?? []) codes.add(c);
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect([...codes].filter((c) => !readme.includes(`\`${c}\``))).toEqual([]);
    expect(codes.size).toBeGreaterThan(20);
  });
});
