// tsc does not copy .lua files or the pages; the compiled build loads them from beside its modules.
const fs = require('node:fs');
const path = require('node:path');
const from = path.join(__dirname, '..', 'src', 'gate', 'lua');
const to = path.join(__dirname, '..', 'dist', 'src', 'gate', 'lua');
// The scripts and their includes (lua/includes/), inlined when a client loads them.
fs.cpSync(from, to, { recursive: true, filter: (src) => fs.statSync(src).isDirectory() || src.endsWith('.lua') });

// The pages: dist/src/http/app.js serves ../../public, i.e. dist/public. Emptied first: a page
// module renamed or removed since the last build must not stay servable from there.
const pages = path.join(__dirname, '..', 'dist', 'public');
fs.rmSync(pages, { recursive: true, force: true });
fs.cpSync(path.join(__dirname, '..', 'public'), pages, { recursive: true });
