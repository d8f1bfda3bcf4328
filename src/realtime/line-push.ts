import { Logger } from '../lib/logger';
import { uuidSchema } from '../http/validate';
import type { WaitingRooms } from '../modules/waiting-room/room';
import { ClientToServerEvents, LineTurn, rooms, ServerToClientEvents, SocketData } from './events';
import { Server, Socket } from 'socket.io';

type Io = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type LineSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** A watcher's place is read again at most this often (and at once when its line starts, sells out or closes). */
const REFRESH_MS = 2000;

/**
 * Pushes the line to shoppers' own sockets. `line:turn` goes from the node that moved the
 * line to the user's room (any node: `toUser`). `line:update`: each node keeps its own
 * watchers current from its own ticks: when the line's state changes (sold out, resumed,
 * closed) every watcher here hears it on that tick (≤ LINE_TICK_MS), and otherwise each
 * watcher's place is read again every 2 s while the line moves.
 */
export function attachLinePush(io: Io, line: WaitingRooms, toUser: (userId: string, event: 'line:turn', turn: LineTurn) => void, logger: Logger) {
  const lastPushMs = new Map<string, number>();
  line.onTurn((t) => toUser(t.userId, 'line:turn', { saleId: t.saleId, placeId: t.placeId, pass: t.pass, passExpiresAt: t.passExpiresAt }));
  line.onTick((tick, changed) => {
    void (async () => {
      const sockets = await io.local.in(rooms.line(tick.saleId)).fetchSockets();
      const now = Date.now();
      for (const s of sockets) {
        const key = `${s.id}|${tick.saleId}`;
        if (!changed && now - (lastPushMs.get(key) ?? 0) < REFRESH_MS) continue;
        lastPushMs.set(key, now);
        const state = await line.read(tick.saleId, s.data.userId, { fresh: true }).catch(() => null);
        if (state) s.emit('line:update', state);
      }
    })().catch((err: Error) => logger.warn('line push failed', { saleId: tick.saleId, err: err.message }));
  });

  return (socket: LineSocket) => {
    socket.on('line:watch', async (req, ack) => {
      const reply = typeof ack === 'function' ? ack : () => undefined;
      const parsed = uuidSchema.safeParse(req?.saleId);
      if (!parsed.success) return reply({ ok: false, error: { code: 'VALIDATION_FAILED', message: 'saleId must be a UUID' } });
      const saleId = parsed.data.toLowerCase();
      try {
        const state = await line.read(saleId, socket.data.userId, { fresh: true });
        await socket.join(rooms.line(saleId));
        line.touch(saleId);
        lastPushMs.set(`${socket.id}|${saleId}`, Date.now());
        socket.emit('line:update', state);
        reply({ ok: true });
      } catch (err) {
        const e = err as { code?: string; message: string };
        reply({ ok: false, error: { code: e.code ?? 'UNAVAILABLE', message: e.code ? e.message : 'Try again shortly' } });
      }
    });
    socket.once('disconnect', () => {
      for (const key of lastPushMs.keys()) if (key.startsWith(`${socket.id}|`)) lastPushMs.delete(key);
    });
  };
}
