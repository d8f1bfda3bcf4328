import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');
const DEPCRUISE = path.join(ROOT, 'node_modules', '.bin', 'depcruise');

/** Runs the project's dependency rules over a small tree of files; returns the exit status and output. */
function cruise(files: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-layering-'));
  try {
    for (const [file, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
      fs.writeFileSync(path.join(dir, file), text);
    }
    fs.copyFileSync(path.join(ROOT, '.dependency-cruiser.cjs'), path.join(dir, '.dependency-cruiser.cjs'));
    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', strict: true } }));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fixture', devDependencies: { autocannon: '9.0.0' } }));
    const r = spawnSync(DEPCRUISE, ['src', '--config', '.dependency-cruiser.cjs'], { cwd: dir, encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** `npm run lint` runs these rules on the real tree; here each is shown to catch what it names. */
describe('The layering rules (dependency-cruiser, run by npm run lint)', () => {
  it('When the tree follows the layers, then the rules pass', () => {
    const r = cruise({
      'src/lib/db.ts': 'export const db = 1;\n',
      'src/gate/keys.ts': "import { db } from '../lib/db';\nexport const keys = db;\n",
      'src/modules/sales/service.ts': "import { keys } from '../../gate/keys';\nexport const sales = keys;\n",
      'src/modules/purchases/admission.ts': "import { sales } from '../sales/service';\nexport const admission = sales;\n",
    });
    expect(r).toMatchObject({ status: 0 });
  });

  it.each([
    ['an import cycle', 'no-circular', { 'src/modules/a.ts': "import { b } from './b';\nexport const a = b;\n", 'src/modules/b.ts': "import { a } from './a';\nexport const b = () => a;\n" }],
    ['the gate importing a module', 'lower-layers-stay-down', { 'src/modules/sales/service.ts': 'export const s = 1;\n', 'src/gate/keys.ts': "import { s } from '../modules/sales/service';\nexport const k = s;\n" }],
    ['sales importing purchases', 'sales-below-purchases', { 'src/modules/purchases/job.ts': 'export const j = 1;\n', 'src/modules/sales/service.ts': "import { j } from '../purchases/job';\nexport const s = j;\n" }],
    ['a module importing recovery', 'recovery-is-injected', { 'src/modules/recovery/reconciler.ts': 'export const r = 1;\n', 'src/modules/purchases/admission.ts': "import { r } from '../recovery/reconciler';\nexport const a = r;\n" }],
    ['src importing tooling', 'no-tooling-or-tests-in-src', { 'tools/client.ts': 'export const c = 1;\n', 'src/lib/x.ts': "import { c } from '../../tools/client';\nexport const x = c;\n" }],
  ])('When the tree has %s, then rule %s fails the lint', (_what, rule, files) => {
    const r = cruise(files as Record<string, string>);
    expect(r.status).not.toBe(0);
    expect(r.out).toContain(rule);
  });
});

describe('The sale lock', () => {
  it('When any file takes a sale\'s advisory lock, then it does so through underSaleLock (lib/sale-lock.ts is the only place that names it)', () => {
    const walk = (dir: string): string[] =>
      fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));
    const naming = walk(path.join(ROOT, 'src'))
      .filter((f) => fs.readFileSync(f, 'utf8').includes('pg_advisory_xact_lock'))
      .map((f) => path.relative(ROOT, f));
    expect(naming).toEqual(['src/lib/sale-lock.ts']);
  });
});
