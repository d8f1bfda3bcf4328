import http from 'node:http';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Server } from 'socket.io';
import { Logger } from '../lib/logger';
import { connectRedis, connectSubscriber, createSocketRedis, RedisClient, RedisTarget, reportConnection } from '../lib/redis';
import { Keys } from '../gate/keys';
import { verificationKey, verifyToken } from '../modules/auth/tokens';
import { uuidSchema } from '../http/validate';
import { ClientToServerEvents, rooms, ServerToClientEvents, socketKey, SocketData } from './events';
import { SaleTicker } from './sale-ticker';
import { createUserEmitter, OUTCOME_CHANNELS, outcomeChannel, OutcomeMessage } from './emitter';
import { attachLinePush } from './line-push';
import type { WaitingRooms } from '../modules/waiting-room/room';

export type Realtime = { io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>; close: () => Promise<void> };

/**
 * Socket.io on the API's HTTP server. Handshake auth with the shopper's JWT; each socket
 * joins only its own user's room (clients never name rooms). The Redis adapter lets a
 * worker's emitter, or another API node, reach sockets connected here.
 */
export async function attachRealtime(
  server: http.Server,
  deps: { redisTarget: RedisTarget; redisPrefix: string; jwtSecret: string; redis: RedisClient; keys: Keys; logger: Logger; line?: WaitingRooms },
): Promise<Realtime> {
  const pub = reportConnection(createSocketRedis(deps.redisTarget, 'fs-socket-pub'), deps.logger, 'socket-pub');
  const sub = reportConnection(createSocketRedis(deps.redisTarget, 'fs-socket-sub'), deps.logger, 'socket-sub');
  // The adapter subscribes as it is created: only once the subscriber can take it.
  await Promise.all([connectRedis(pub), connectSubscriber(sub)]);
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(server, {
    // Sharded pub/sub (Redis 7): a channel per room, each on one cluster master, instead of
    // every message fanned out to every node of the cluster.
    adapter: createShardedAdapter(pub, quietSubscriptions(sub, deps.logger), { channelPrefix: socketKey(deps.redisPrefix), subscriptionMode: 'dynamic' }),
    serveClient: true,
  });
  await listenForOutcomes(io, sub, deps.redisPrefix, deps.logger);
  const key = verificationKey(deps.jwtSecret);
  const ticker = new SaleTicker(io, deps.redis, deps.keys);
  ticker.start();
  const watchLine = deps.line ? attachLinePush(io, deps.line, createUserEmitter(deps.redis, deps.redisPrefix), deps.logger) : undefined;

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
    watchLine?.(socket);

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
      await Promise.all([pub.quit().catch(() => undefined), sub.quit().catch(() => undefined)]);
    },
  };
}

/**
 * The adapter subscribes to a room's channel when the room's first socket joins and never
 * awaits it: a refused SSUBSCRIBE (Redis down past its retries, a cluster resharding) would be
 * an unhandled rejection, which ends a Node 20 process. Here it is logged instead; that
 * room's pushes are lost until it is joined again (at-most-once: clients re-fetch).
 */
function quietSubscriptions(client: RedisClient, logger: Logger): RedisClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'ssubscribe' || prop === 'sunsubscribe') {
        return (...channels: string[]) =>
          target[prop](...channels).catch((err: Error) => {
            logger.warn(`socket.io ${prop} failed; that room's pushes are lost until it is joined again`, { channels, err: err.message });
            return 0;
          });
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

/**
 * The workers' decisions arrive a batch per message on the outcome channels (emitter.ts);
 * every API node hears every batch and gives each update to its own sockets in the owner's
 * room (`io.local`: the other nodes do the same for theirs). The adapter's own handlers
 * ignore these channels.
 */
async function listenForOutcomes(io: Realtime['io'], sub: RedisClient, redisPrefix: string, logger: Logger): Promise<void> {
  const channels = new Set(Array.from({ length: OUTCOME_CHANNELS }, (_, n) => outcomeChannel(redisPrefix, n)));
  sub.on('smessage', (channel: string, raw: string) => {
    if (!channels.has(channel)) return;
    let message: OutcomeMessage;
    try {
      message = JSON.parse(raw) as OutcomeMessage;
    } catch {
      return logger.warn('unreadable outcome message', { channel });
    }
    for (const [userId, update] of message.updates) io.local.to(rooms.user(userId)).emit('purchase:update', update);
  });
  // One by one: on a cluster the channels sit in different slots.
  await Promise.all([...channels].map((channel) => sub.ssubscribe(channel)));
}
