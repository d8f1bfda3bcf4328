/**
 * Test instrumentation, never part of the app: with NODE_ENV=test and OPENAPI_RECORD_FILE
 * set, every JSON response the engine's HTTP servers in this process send is appended to that
 * file as one JSON line ({ method, path, routePath, status, retryAfter, body }: see
 * recorded-response.ts), so test/openapi-conformance.test.ts can check each against the
 * OpenAPI document. Loaded by jest (setupFiles) for in-process servers, and through
 * NODE_OPTIONS=--require (set by test/global-setup.ts) in the API and worker processes
 * tests spawn. Plain CommonJS because --require runs it before any TypeScript loader.
 */
const { Buffer } = require('node:buffer');
const { appendFileSync } = require('node:fs');
const http = require('node:http');

const file = process.env.OPENAPI_RECORD_FILE;
const PATCHED = Symbol.for('flashsale.recordResponses');
/** Per-response recording state (the prototype carries PATCHED). */
const STATE = Symbol('recordState');
/** Larger bodies are recorded as a note, not parsed. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

const isJson = (res) => /\bjson\b/.test(String(res.getHeader('content-type') ?? ''));

function matches(routePath, path) {
  const re = new RegExp(`^${routePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}/?$`, 'i');
  return re.test(path);
}

function state(res) {
  if (!Object.prototype.hasOwnProperty.call(res, STATE)) {
    res[STATE] = { chunks: [], size: 0, routePath: null };
    res.once('finish', () => record(res));
  }
  return res[STATE];
}

function keep(res, chunk, encoding) {
  if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
  const s = state(res);
  // Pages and scripts are not recorded: skip holding them once their type is known.
  if (s.size > MAX_BODY_BYTES || (res.hasHeader('content-type') && !isJson(res))) return;
  const buf = typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : Buffer.from(chunk);
  s.size += buf.length;
  s.chunks.push(buf);
}

function record(res) {
  const req = res.req;
  // The engine answers every request with an X-Request-Id (Express and the sold-out lane
  // alike); a test's own stub servers do not, and are not recorded.
  if (!req || !isJson(res) || !res.hasHeader('x-request-id')) return;
  const s = res[STATE];
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0];
  let body;
  try {
    body = s.size > MAX_BODY_BYTES ? { unrecorded: `body over ${MAX_BODY_BYTES} bytes` } : JSON.parse(Buffer.concat(s.chunks).toString('utf8'));
  } catch {
    body = { unparseable: Buffer.concat(s.chunks).toString('utf8').slice(0, 500) };
  }
  const rec = {
    method: req.method,
    path,
    // A route left with an error keeps req.route while the error handler answers from the app: trust it only when it names this path.
    routePath: s.routePath !== null && matches(s.routePath, path) ? s.routePath : null,
    status: res.statusCode,
    retryAfter: res.hasHeader('retry-after') ? String(res.getHeader('retry-after')) : null,
    body,
  };
  try {
    appendFileSync(file, `${JSON.stringify(rec)}\n`);
  } catch {
    /* instrumentation must never fail a request */
  }
}

if (process.env.NODE_ENV === 'test' && file && !http.ServerResponse.prototype[PATCHED]) {
  const proto = http.ServerResponse.prototype;
  const write = proto.write;
  const end = proto.end;
  proto[PATCHED] = true;
  proto.write = function (chunk, ...rest) {
    keep(this, chunk, rest[0]);
    return write.call(this, chunk, ...rest);
  };
  proto.end = function (chunk, ...rest) {
    keep(this, chunk, rest[0]);
    // Still inside the handler that answers: req.baseUrl is its router's mount path.
    const req = this.req;
    if (req && req.route && typeof req.route.path === 'string') state(this).routePath = req.baseUrl + req.route.path;
    else state(this);
    return end.call(this, chunk, ...rest);
  };
}
