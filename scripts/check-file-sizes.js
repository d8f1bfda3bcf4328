// Part of `npm run lint`: no TypeScript file in src/ or workers/ over 300 lines, unless a
// comment in it says why (a line containing "longer than 300 lines because").
const fs = require('node:fs');
const path = require('node:path');

const LIMIT = 300;
const root = path.join(__dirname, '..');
const walk = (dir) =>
  fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name.endsWith('.ts') ? [p] : [];
  });

const offenders = ['src', 'workers']
  .flatMap((d) => walk(path.join(root, d)))
  .map((file) => ({ file: path.relative(root, file), text: fs.readFileSync(file, 'utf8') }))
  .filter(({ text }) => text.split('\n').length > LIMIT && !/longer than 300 lines because/.test(text));

for (const { file, text } of offenders) console.error(`${file}: ${text.split('\n').length} lines (over ${LIMIT}; split it, or say why in a comment)`);
process.exit(offenders.length > 0 ? 1 : 0);
