/** (a) bare Express hello: `GET /hello` on a default Express 5 app (bench/servers/hello.ts), the framework floor. */
import { call, expectStatus } from '../../tools/client';
import { TokenCursor } from '../harness/tokens';
import type { HttpScenario } from './http';

export const hello: HttpScenario = {
  id: 'hello',
  label: '(a) bare Express hello',
  expectedStatus: 200,
  serverName: 'hello',
  // Hello ignores the token, but sending it keeps the load generator's work per request equal.
  target: async (b) => ({ target: { url: `${b.hello.url}/hello`, method: 'GET', tokens: new TokenCursor(b.shoppers) }, server: b.hello }),
  smoke: async (b) => void expectStatus(await call(b.hello.url, 'GET', '/hello', { timeoutMs: 10_000 }), 200, 'hello'),
};
