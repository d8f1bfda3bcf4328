import net from 'node:net';

/**
 * A loopback TCP proxy in front of a Redis server. Normally it forwards both ways. While
 * `dropReplies(ms, trigger)` runs, it keeps forwarding client->server bytes (so the
 * commands do run in Redis), and on each connection, from the first client chunk that
 * `trigger` matches (e.g. the gate's script call for one sale) on, it throws away every
 * server->client byte: that call's reply and all after it. After `ms` it destroys those
 * connections on both sides (their reply streams are out of step); clients reconnect
 * through it normally. Without a trigger, every connection drops from the start.
 */
export type ReplyDropProxy = {
  url: string;
  port: number;
  /** Connections currently open through the proxy. */
  open: () => number;
  dropReplies: (ms: number, trigger?: (chunk: Buffer) => boolean) => Promise<DropReport>;
  close: () => Promise<void>;
};

export type DropReport = {
  startedAt: number;
  endedAt: number;
  /** Connections whose replies were dropped and which were then destroyed. */
  connectionsCut: number;
  /** Client chunks that matched the trigger (each a call whose reply was then dropped). */
  triggeredCalls: number;
  /** Client->server bytes forwarded while replies were dropped (the commands that ran unanswered). */
  requestBytesForwarded: number;
  repliesBytesDropped: number;
};

type Pair = { client: net.Socket; upstream: net.Socket; dropping: boolean };

export async function startReplyDropProxy(target: { host?: string; port: number }): Promise<ReplyDropProxy> {
  const host = target.host ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let armed = false;
  let trigger: ((chunk: Buffer) => boolean) | undefined;
  let forwarded = 0;
  let dropped = 0;
  let triggered = 0;

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, host);
    const pair: Pair = { client, upstream, dropping: armed && !trigger };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (d: Buffer) => {
      if (armed && trigger?.(d)) {
        triggered++;
        pair.dropping = true;
      }
      if (pair.dropping) forwarded += d.length;
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (pair.dropping) {
        dropped += d.length;
        return;
      }
      client.write(d);
    });
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    open: () => pairs.size,
    dropReplies: async (ms, match) => {
      if (armed) throw new Error('the proxy is already dropping replies');
      armed = true;
      trigger = match;
      forwarded = 0;
      dropped = 0;
      triggered = 0;
      if (!trigger) for (const p of pairs) p.dropping = true;
      const startedAt = Date.now();
      await new Promise((r) => setTimeout(r, ms));
      const cut = [...pairs].filter((p) => p.dropping);
      for (const p of cut) {
        pairs.delete(p);
        p.client.destroy();
        p.upstream.destroy();
      }
      armed = false;
      trigger = undefined;
      return { startedAt, endedAt: Date.now(), connectionsCut: cut.length, triggeredCalls: triggered, requestBytesForwarded: forwarded, repliesBytesDropped: dropped };
    },
    close: async () => {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
