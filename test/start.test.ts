import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { TEST_DATABASE_URL, testEnv } from './env';
import { call, waitFor } from './helpers';

/** The newcomer's path: `npm start` on a database that does not exist yet. */
describe('When `npm start` runs against a missing database', () => {
  const dbName = `flashsale_start_${randomUUID().slice(0, 8)}`;
  const dbUrl = TEST_DATABASE_URL.replace(/\/[^/]+$/, `/${dbName}`);

  afterAll(async () => {
    const admin = new Client({ connectionString: TEST_DATABASE_URL.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  });

  it('then it creates and migrates it, seeds a demo sale, and the printed curl buys from it; SIGTERM exits 0 with "stopped" as its last line', async () => {
    const root = path.join(__dirname, '..');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'main.ts')], {
      cwd: root,
      env: {
        ...process.env,
        ...testEnv({ DATABASE_URL: dbUrl, REDIS_PREFIX: `start${dbName.slice(-8)}`, QUEUE_NAME: `start-${dbName}`, SEED_DEMO: 'true', LOG_LEVEL: 'info' }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => (/Ctrl-C/.test(out) ? true : undefined), `the start-up banner (output so far: ${out})`, 30_000, 100);
      const base = /up at (http:\/\/localhost:\d+)/.exec(out)![1]!;
      const curl = /curl -s -X POST (\S+)\/api\/sales\/([0-9a-f-]{36})\/purchases[\s\\]+-H 'Authorization: Bearer ([\w.-]+)'/.exec(out);
      expect(curl).not.toBeNull();
      const [, , saleId, token] = curl!;

      const bought = await call(base, 'POST', `/api/sales/${saleId}/purchases`, { token, body: { quantity: 1 } });
      expect(bought.status).toBe(202);
      const final = await waitFor(async () => {
        const r = await call(base, 'GET', bought.body.statusUrl, { token });
        return r.body.status === 'confirmed' ? r.body : undefined;
      }, 'the demo purchase to be confirmed');
      expect(final.orderId).toEqual(expect.any(String));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // The last thing it says is that it stopped.
    expect(out.trim().split('\n').pop()).toMatch(/"message":"stopped"/);
  });
});
