import http from 'node:http';
import { AddressInfo } from 'node:net';

/** One request the receiver got, as it arrived. */
export type Received = { eventId: string; type: string; signature: string; body: string; event: { id: string; type: string; createdAt: string; data: any }; answered: number };

/**
 * A real HTTP webhook receiver for tests: records every POST and answers with what
 * `answer` says for it (by default 200). `answer` sees how many times this event id came
 * before, so "fail N times, then succeed" is one line.
 */
export async function startReceiver(answer: (event: Received['event'], seenBefore: number) => number = () => 200) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const event = JSON.parse(body) as Received['event'];
      const status = answer(event, received.filter((r) => r.eventId === event.id).length);
      received.push({
        eventId: String(req.headers['flashsale-event-id']),
        type: String(req.headers['flashsale-event-type']),
        signature: String(req.headers['flashsale-signature']),
        body,
        event,
        answered: status,
      });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    /** Events accepted (2xx), one entry per request. */
    accepted: () => received.filter((r) => r.answered < 300),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
