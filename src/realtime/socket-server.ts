import http from 'node:http';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';
import { Logger } from '../lib/logger';
import { createSocketRedis, RedisClient, RedisTarget, reportConnection } from '../lib/redis';
import { Keys } from '../gate/keys';
import { verificationKey, verifyToken } from '../modules/auth/tokens';
import { uuidSchema } from '../http/validate';
import { ClientToServerEvents, rooms, ServerToClientEvents, socketKey, SocketData } from './events';
import { SaleTicker } from './sale-ticker';

export type Realtime = { io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>; close: () => Promise<void> };

/**
 * Socket.io on the API's HTTP server. Handshake auth with the shopper's JWT; each socket
 * joins only its own user's room (clients never name rooms). The Redis adapter lets a
 * worker's emitter, or another API node, reach sockets connected here.
 */
export function attachRealtime(
  server: http.Server,
  deps: { redisTarget: RedisTarget; redisPrefix: string; jwtSecret: string; redis: RedisClient; keys: Keys; logger: Logger },
): Realtime {
  const pub = reportConnection(createSocketRedis(deps.redisTarget, 'fs-socket-pub'), deps.logger, 'socket-pub');
  const sub = reportConnection(createSocketRedis(deps.redisTarget, 'fs-socket-sub'), deps.logger, 'socket-sub');
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(server, {
    // Sharded pub/sub (Redis 7): a channel per room, each on one cluster master, instead of
    // every message fanned out to every node of the cluster.
    adapter: createShardedAdapter(pub, sub, { channelPrefix: socketKey(deps.redisPrefix), subscriptionMode: 'dynamic' }),
    serveClient: true,
  });
  const key = verificationKey(deps.jwtSecret);
  const ticker = new SaleTicker(io, deps.redis, deps.keys);
  ticker.start();

  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    const principal = typeof token === 'string' ? verifyToken(token, key) : null;
    if (!principal) return next(new Error('UNAUTHENTICATED'));
    socket.data = { userId: principal.userId, role: principal.role, validUntilMs: principal.validUntilMs };
    next();
  });

  io.on('connection', (socket) => {
    void socket.join(rooms.user(socket.data.userId));
    // The token was checked once, at the handshake: when it runs out, so does the socket
    // (the client reconnects with a fresh token). setTimeout caps at ~24.8 days.
    const expiry = setTimeout(() => socket.disconnect(true), Math.min(Math.max(0, socket.data.validUntilMs - Date.now()), 2 ** 31 - 1));
    socket.once('disconnect', () => clearTimeout(expiry));

    socket.on('sale:watch', async (req, ack) => {
      const parsed = uuidSchema.safeParse(req?.saleId);
      const reply = typeof ack === 'function' ? ack : () => undefined;
      if (!parsed.success) return reply({ ok: false, error: { code: 'VALIDATION_FAILED', message: 'saleId must be a UUID' } });
      const saleId = parsed.data.toLowerCase();
      try {
        const snap = await ticker.snapshot(saleId);
        if (!snap) return reply({ ok: false, error: { code: 'SALE_NOT_FOUND', message: 'Sale not found' } });
        await socket.join(rooms.sale(saleId));
        ticker.seen(saleId, snap);
        socket.emit('sale:stock', { saleId, remaining: snap.remaining });
        socket.emit('sale:status', { saleId, status: snap.status });
        reply({ ok: true });
      } catch (err) {
        deps.logger.warn('sale:watch failed', { saleId, err: (err as Error).message });
        reply({ ok: false, error: { code: 'UNAVAILABLE', message: 'Try again shortly' } });
      }
    });

    socket.on('sale:unwatch', (req) => {
      const parsed = uuidSchema.safeParse(req?.saleId);
      if (parsed.success) void socket.leave(rooms.sale(parsed.data.toLowerCase()));
    });
  });

  return {
    io,
    close: async () => {
      ticker.stop();
      // Disconnects every socket and closes the HTTP server it is attached to.
      await new Promise<void>((resolve) => {
        void io.close(() => resolve());
        server.closeIdleConnections();
      });
      await subscriptionsSettled(sub);
      await Promise.all([pub.quit().catch(() => undefined), sub.quit().catch(() => undefined)]);
    },
  };
}

/**
 * On a Redis Cluster, ioredis subscribes on an inner connection of its own, and quitting the
 * cluster while that connection still has the adapter's SUBSCRIBE in flight rejects it; the
 * adapter never awaits those promises, so the rejection would be unhandled (an API stopped
 * right after it started). Waits, at most a second, until the inner connection has nothing
 * in flight. (A single Redis orders QUIT after the SUBSCRIBEs by itself.) Reads ioredis
 * internals, hence the defensive shape: when they are not there, it does not wait.
 */
async function subscriptionsSettled(client: RedisClient, deadlineMs = 1000): Promise<void> {
  type Inner = { status?: string; commandQueue?: { length: number }; offlineQueue?: { length: number } };
  const inner = () => (client as unknown as { subscriber?: { getInstance?: () => Inner | null } }).subscriber?.getInstance?.();
  const busy = (c: Inner | null | undefined) =>
    !!c && c.status !== 'end' && (c.status !== 'ready' || (c.commandQueue?.length ?? 0) > 0 || (c.offlineQueue?.length ?? 0) > 0);
  const until = Date.now() + deadlineMs;
  while (busy(inner()) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
}
