import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

/**
 * HTTP from many loopback source addresses. Linux routes all of 127.0.0.0/8 to `lo`, so a
 * socket can bind any 127.a.b.c as its local address: to nginx each is another client
 * ($remote_addr), which is how test/nginx.test.ts has many "shoppers' machines" on one host.
 */

/** `count` addresses of one random 127.a.b.0/24 (never 127.0.0.x), fresh per call, so runs never share a rate-limit bucket. */
export function addressBlock(count: number): string[] {
  if (count < 1 || count > 254) throw new Error('1..254 addresses per block');
  const prefix = `127.${randomInt(1, 255)}.${randomInt(0, 256)}`;
  return Array.from({ length: count }, (_, i) => `${prefix}.${i + 1}`);
}

export type LoopbackReply = { status: number; headers: http.IncomingHttpHeaders; body: any; text: string };

export type RequestOptions = {
  /** Local (source) address; default the OS's choice (127.0.0.1). */
  from?: string;
  token?: string;
  body?: unknown;
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
};

/** A keep-alive agent per source address; destroy() closes them all. */
export class LoopbackClient {
  private readonly agents = new Map<string, http.Agent>();

  constructor(
    readonly base: string,
    private readonly maxSocketsPerAddress = 16,
  ) {}

  agent(from = ''): http.Agent {
    let a = this.agents.get(from);
    if (!a) {
      a = new http.Agent({ keepAlive: true, maxSockets: this.maxSocketsPerAddress, ...(from ? { localAddress: from } : {}) });
      this.agents.set(from, a);
    }
    return a;
  }

  /** Resolves with the reply, or with status 0 when the connection fails or is cut (never rejects). */
  request(method: string, path: string, opts: RequestOptions = {}): Promise<LoopbackReply> {
    const payload = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (payload !== undefined) headers['content-type'] ??= 'application/json';
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    return new Promise((resolve) => {
      const req = http.request(new URL(path, this.base), { method, headers, agent: this.agent(opts.from), timeout: opts.timeoutMs ?? 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', () => resolve({ status: 0, headers: res.headers, body: undefined, text: 'response cut' }));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text });
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve({ status: 0, headers: {}, body: undefined, text: err.message }));
      req.end(payload);
    });
  }

  destroy(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }
}

/** One line of nginx/flashsale.conf's `flashsale` log format. */
export type AccessLine = { client: string; request: string; status: number; upstream: string; requestId: string };

const LINE = /^(\S+) - \[[^\]]+\] "([^"]*)" (\d{3}) \d+ rt=\S+ urt=.*? up=(.*?) rid=(\S+)$/;

export function readAccessLog(file: string): AccessLine[] {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => LINE.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ client: m[1]!, request: m[2]!, status: Number(m[3]), upstream: m[4]!, requestId: m[5]! }));
}
