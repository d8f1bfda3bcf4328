// tsc does not copy .lua files or the pages; the compiled build loads them from beside its modules.
const fs = require('node:fs');
const path = require('node:path');
const from = path.join(__dirname, '..', 'src', 'redis', 'lua');
const to = path.join(__dirname, '..', 'dist', 'src', 'redis', 'lua');
fs.mkdirSync(to, { recursive: true });
for (const f of fs.readdirSync(from)) if (f.endsWith('.lua')) fs.copyFileSync(path.join(from, f), path.join(to, f));

// The pages: dist/src/http/app.js serves ../../public, i.e. dist/public.
fs.cpSync(path.join(__dirname, '..', 'public'), path.join(__dirname, '..', 'dist', 'public'), { recursive: true });
