import http from 'node:http';
import { AddressInfo } from 'node:net';
import express from 'express';
import { helmetMiddleware, securityHeaderList, securityHeaders } from './security-headers';

/** Headers of a GET / answered by an Express app with `mw` in front, over real HTTP. */
async function headersFrom(mw: express.RequestHandler, path = '/'): Promise<Record<string, string>> {
  const app = express();
  app.disable('x-powered-by');
  app.use(mw);
  app.use((_req, res) => void res.json({ ok: true }));
  const server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`);
    await res.text();
    return Object.fromEntries([...res.headers.entries()].filter(([name]) => name !== 'date' && name !== 'connection' && name !== 'keep-alive'));
  } finally {
    server.close();
  }
}

describe('Security headers', () => {
  it('When set from the list read once, then every response carries exactly what helmet itself sets', async () => {
    const list = securityHeaderList();
    expect(list.length).toBeGreaterThanOrEqual(10);
    for (const path of ['/', '/api/sales/x/purchases?y=1', '/admin']) {
      expect(await headersFrom(securityHeaders(list), path)).toEqual(await headersFrom(helmetMiddleware(), path));
    }
  });

  it('When a middleware does not answer synchronously, then reading its headers fails loudly', () => {
    expect(() => securityHeaderList((_req, _res, next) => void setImmediate(next))).toThrow(/synchronously/);
  });
});
