// tsc does not copy .lua files or the pages; the compiled build loads them from beside its modules.
const fs = require('node:fs');
const path = require('node:path');
const from = path.join(__dirname, '..', 'src', 'gate', 'lua');
const to = path.join(__dirname, '..', 'dist', 'src', 'gate', 'lua');
// The scripts and their includes (lua/includes/), inlined when a client loads them.
fs.cpSync(from, to, { recursive: true, filter: (src) => fs.statSync(src).isDirectory() || src.endsWith('.lua') });

// The pages: dist/src/http/app.js serves ../../public, i.e. dist/public.
fs.cpSync(path.join(__dirname, '..', 'public'), path.join(__dirname, '..', 'dist', 'public'), { recursive: true });
