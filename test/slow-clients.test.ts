import net from 'node:net';
import { io as connect, Socket } from 'socket.io-client';
import { adminToken, call, shopperToken, Stack, startStack, testConfig } from './helpers';

/**
 * Slow clients cannot hold the door: the API's headersTimeout, requestTimeout and
 * keepAliveTimeout, enforced by the real server over raw TCP. The limits are short
 * here so the file stays quick; production defaults are in the README ("Timeouts").
 */

const HEADERS_MS = 1000;
const REQUEST_MS = 2000;
const KEEP_ALIVE_MS = 2000;
/** How often the server must check its connections: min(1 s, headersTimeout / 2). Not read from the source, so a slower check fails here. */
const CHECK_EVERY_MS = 500;
/** Node 20 keeps an idle keep-alive socket this much longer than the timeout it advertises. */
const NODE_KEEP_ALIVE_BUFFER_MS = 1000;
/** Timers, accept and event-loop lag: how far a close may land past the limit. */
const SLACK_MS = 750;
/** Timer granularity: how far before the limit a close may land (the server starts counting a hair after `connect`). */
const EARLY_MS = 50;

const now = () => performance.now();

/** Rejects after `ms` with `what()` in the message (evaluated then, so it shows the state at the deadline). */
async function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what()}`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

type Raw = {
  connectedAt: number;
  /** performance.now() when the socket closed, once it has. */
  closedAt: number | undefined;
  closed: Promise<number>;
  received: () => string;
  send: (data: string) => void;
  /** Writes `byte` every `everyMs` until the socket closes. */
  trickle: (byte: string, everyMs: number) => void;
  /** Resolves with the first value `check` returns for what has been received, at a data event or once closed. */
  until: <T>(check: (received: string, closed: boolean) => T | undefined, ms: number, what: string) => Promise<T>;
  destroy: () => void;
};

/** A raw TCP client that sends `first` as soon as it is connected; resolves once those bytes are written. */
function openRaw(port: number, first: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let closedAt: number | undefined;
    const waiters = new Set<() => void>();
    const timers: NodeJS.Timeout[] = [];
    const closed = new Promise<number>((done) =>
      socket.once('close', () => {
        closedAt = now();
        timers.forEach(clearInterval);
        waiters.forEach((w) => w());
        done(closedAt);
      }),
    );
    // The server closing on a client that is still writing can reset the connection: expected here.
    socket.on('error', () => undefined);
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      waiters.forEach((w) => w());
    });
    socket.once('connect', () => {
      const connectedAt = now();
      const raw: Raw = {
        connectedAt,
        get closedAt() {
          return closedAt;
        },
        closed,
        received: () => received,
        send: (data) => {
          if (socket.writable) socket.write(data);
        },
        trickle: (byte, everyMs) => {
          timers.push(setInterval(() => raw.send(byte), everyMs));
        },
        until: <T>(check: (received: string, closed: boolean) => T | undefined, ms: number, what: string) => {
          let waiter: () => void = () => undefined;
          const seen = new Promise<T>((done) => {
            waiter = () => {
              const v = check(received, closedAt !== undefined);
              if (v !== undefined) done(v);
            };
            waiters.add(waiter);
            waiter();
          });
          return within(seen, ms, () => `${what} (received so far: ${JSON.stringify(received)})`).finally(() => waiters.delete(waiter));
        },
        destroy: () => socket.destroy(),
      };
      socket.write(first, () => resolve(raw));
    });
    socket.once('error', reject);
  });
}

/** One complete HTTP/1.1 response at the start of `text` (Content-Length framed), or undefined while incomplete. */
function parseResponse(text: string): { status: number; headers: string; length: number } | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = text.slice(0, end);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
  const bodyLength = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
  const length = end + 4 + bodyLength;
  return text.length >= length ? { status, headers: head, length } : undefined;
}

const isRequestTimeout = (received: string) => received.startsWith('HTTP/1.1 408 ');

describe('When the API runs with short slow-client limits', () => {
  let stack: Stack;
  let port: number;
  const raws: Raw[] = [];
  const sockets: Socket[] = [];
  const open = async (first: string) => {
    const raw = await openRaw(port, first);
    raws.push(raw);
    return raw;
  };

  /** Clients that send part of a request and then one more byte every 300 ms: half stuck in the request line, half in a header. */
  const slowHeaderClients = (n: number) =>
    Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const raw = await open(i % 2 === 0 ? 'GET /api/health/live?q=' : 'GET /api/health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
        raw.trickle('a', 300);
        return raw;
      }),
    );

  /** A client whose headers are complete (admin product create, so the body is read) and whose body trickles a byte every 300 ms. */
  const slowBodyClient = async () => {
    const raw = await open(
      'POST /api/admin/products HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${adminToken()}\r\nContent-Length: 200\r\n\r\n{"sku":"`,
    );
    raw.trickle('a', 300);
    return raw;
  };

  beforeAll(async () => {
    stack = await startStack(
      testConfig({ HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS), HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS), HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS) }),
      { worker: false },
    );
    port = Number(new URL(stack.api.url).port);
  });
  afterEach(() => {
    // A failed test must not leave a client holding the server open for the next one.
    raws.splice(0).forEach((r) => r.destroy());
    sockets.splice(0).forEach((s) => s.close());
  });
  afterAll(async () => stack?.stop());

  it('When the API starts, then its server carries the configured limits', () => {
    expect(stack.api.server.headersTimeout).toBe(HEADERS_MS);
    expect(stack.api.server.requestTimeout).toBe(REQUEST_MS);
    expect(stack.api.server.keepAliveTimeout).toBe(KEEP_ALIVE_MS);
  });

  it('When 50 clients trickle a partial request line or headers, then each gets 408 and is closed within headersTimeout plus one check', async () => {
    // Arrange + Act
    const slow = await slowHeaderClients(50);

    // Assert
    const latest = HEADERS_MS + CHECK_EVERY_MS + SLACK_MS;
    await within(Promise.all(slow.map((c) => c.closed)), latest + 1000, () => `${slow.filter((c) => c.closedAt === undefined).length} of 50 still open`);
    const lifetimes = slow.map((c) => c.closedAt! - c.connectedAt);
    expect({
      closedBeforeHeadersTimeout: lifetimes.filter((ms) => ms < HEADERS_MS - EARLY_MS).length,
      closedLate: lifetimes.filter((ms) => ms > latest).length,
      without408: slow.filter((c) => !isRequestTimeout(c.received())).length,
    }).toEqual({ closedBeforeHeadersTimeout: 0, closedLate: 0, without408: 0 });
  });

  it('When a client sends full headers with a Content-Length and trickles the body, then requestTimeout cuts it off with 408', async () => {
    // Arrange + Act
    const slow = await slowBodyClient();

    // Assert: past headersTimeout (its headers were complete), cut at requestTimeout.
    const closedAt = await within(slow.closed, REQUEST_MS + CHECK_EVERY_MS + SLACK_MS + 1000, () => 'the slow body to be cut off');
    const lifetime = closedAt - slow.connectedAt;
    expect(lifetime).toBeGreaterThanOrEqual(REQUEST_MS - EARLY_MS);
    expect(lifetime).toBeLessThanOrEqual(REQUEST_MS + CHECK_EVERY_MS + SLACK_MS);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('When 100 slow clients hold connections, then normal requests are still served promptly', async () => {
    // Arrange
    const slow = [...(await slowHeaderClients(50)), ...(await Promise.all(Array.from({ length: 50 }, () => slowBodyClient())))];

    // Act
    const started = now();
    const replies = await Promise.all([
      ...Array.from({ length: 10 }, () => call(stack.api.url, 'GET', '/api/health/ready')),
      call(stack.api.url, 'POST', '/api/sales/not-a-sale/purchases', { token: shopperToken('prompt'), body: { quantity: 1 } }),
    ]);
    const took = now() - started;
    const stillOpen = slow.filter((c) => c.closedAt === undefined).length;

    // Assert: answered well inside headersTimeout, while every slow client was still connected.
    expect(replies.map((r) => r.status)).toEqual([...Array(10).fill(200), 404]);
    expect(took).toBeLessThan(HEADERS_MS / 2);
    expect(stillOpen).toBe(100);
  });

  it('When a keep-alive socket idles past headersTimeout, then it is not answered 408, serves its next request, and closes after keepAliveTimeout', async () => {
    // Arrange: one request on a raw keep-alive socket.
    const request = 'GET /api/health/live HTTP/1.1\r\nHost: localhost\r\n\r\n';
    const client = await open(request);
    const first = await client.until((text) => parseResponse(text), 2000, 'the first response');
    expect(first.status).toBe(200);
    expect(first.headers).toMatch(new RegExp(`\\r\\nkeep-alive: timeout=${KEEP_ALIVE_MS / 1000}\\b`, 'i'));

    // Act: idle for longer than headersTimeout and two connection checks (the idleness is
    // the scenario, there is no event to wait for), then the next request on the same socket.
    await new Promise((r) => setTimeout(r, HEADERS_MS + 2 * CHECK_EVERY_MS));
    expect({ closed: client.closedAt !== undefined, unsolicited: client.received().slice(first.length) }).toEqual({ closed: false, unsolicited: '' });
    client.send(request);
    const second = await client.until((text) => parseResponse(text.slice(first.length)), 2000, 'the second response');
    const answeredAt = now();
    expect(second.status).toBe(200);

    // Assert: closed quietly (no 408 written to an idle socket a proxy might reuse) after keepAliveTimeout.
    const closedAt = await within(client.closed, KEEP_ALIVE_MS + NODE_KEEP_ALIVE_BUFFER_MS + SLACK_MS + 1000, () => 'the idle socket to be closed');
    expect(closedAt - answeredAt).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - EARLY_MS);
    expect(closedAt - answeredAt).toBeLessThanOrEqual(KEEP_ALIVE_MS + NODE_KEEP_ALIVE_BUFFER_MS + SLACK_MS);
    expect(client.received().length).toBe(first.length + second.length);
  });

  it('When a Socket.io websocket stays open past requestTimeout, then it is not cut and still answers', async () => {
    // Arrange
    const s = connect(stack.api.url, { auth: { token: shopperToken('watcher') }, transports: ['websocket'], reconnection: false, forceNew: true });
    sockets.push(s);
    const disconnects: string[] = [];
    s.on('disconnect', (reason) => disconnects.push(reason));
    await within(new Promise((r) => s.once('connect', () => r(undefined))), 5000, () => 'the websocket to connect');

    // Act: outlive requestTimeout plus two checks (a duration is the scenario: no event to wait for).
    await new Promise((r) => setTimeout(r, REQUEST_MS + 2 * CHECK_EVERY_MS));
    const reply = await within(s.emitWithAck('sale:watch', { saleId: 'nope' }), 2000, () => 'the sale:watch ack');

    // Assert
    expect(disconnects).toEqual([]);
    expect(reply).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });
  });

  it('When HTTP_HEADERS_TIMEOUT_MS exceeds HTTP_REQUEST_TIMEOUT_MS, then the configuration is refused, naming the variable', () => {
    expect(() => testConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '4000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS/);
  });
});
