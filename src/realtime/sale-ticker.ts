import { RedisClient } from '../lib/redis';
import { Server } from 'socket.io';
import { Keys } from '../gate/keys';
import { saleStatus, SaleStatus } from '../modules/sales/sale';
import { ClientToServerEvents, rooms, ServerToClientEvents, SocketData } from './events';

type Io = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
export type SaleSnapshot = { remaining: number; status: SaleStatus };

/**
 * Pushes `sale:stock` / `sale:status` to this node's watchers. Each tick (250 ms) reads
 * the gate for every sale watched here and emits only what changed, locally: a thousand
 * purchases a second become at most four broadcasts a second per watcher, and no node
 * re-broadcasts another node's watchers.
 */
export class SaleTicker {
  private readonly last = new Map<string, SaleSnapshot>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly io: Io,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly intervalMs = 250,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick().catch(() => undefined), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The gate's view of a sale now, or undefined when the gate does not know it. */
  async snapshot(saleId: string, now = new Date()): Promise<SaleSnapshot | undefined> {
    const k = this.keys.sale(saleId);
    const [meta, remaining] = await Promise.all([this.redis.hmget(k.meta, 'startsAt', 'endsAt', 'cancelled'), this.redis.get(k.remaining)]);
    if (meta[0] === null || meta[1] === null) return undefined;
    const units = Math.max(0, Number(remaining ?? 0));
    const status = saleStatus(
      { startsAt: new Date(Number(meta[0])), endsAt: new Date(Number(meta[1])), cancelledAt: meta[2] === '1' ? now : null },
      units,
      now,
    );
    return { remaining: units, status };
  }

  /** Remembers what a new watcher was just sent, so the next tick does not repeat it. */
  seen(saleId: string, snap: SaleSnapshot): void {
    if (!this.last.has(saleId)) this.last.set(saleId, snap);
  }

  private watchedHere(): string[] {
    const ids: string[] = [];
    for (const [room, members] of this.io.of('/').adapter.rooms) {
      if (members.size > 0 && room.startsWith('sale:')) ids.push(room.slice('sale:'.length));
    }
    return ids;
  }

  async tick(): Promise<void> {
    const ids = this.watchedHere();
    for (const id of this.last.keys()) if (!ids.includes(id)) this.last.delete(id);
    const snaps = await Promise.all(ids.map((id) => this.snapshot(id)));
    ids.forEach((saleId, i) => {
      const snap = snaps[i];
      if (!snap) return;
      const prev = this.last.get(saleId);
      const room = this.io.local.to(rooms.sale(saleId));
      if (prev?.remaining !== snap.remaining) room.emit('sale:stock', { saleId, remaining: snap.remaining });
      if (prev?.status !== snap.status) room.emit('sale:status', { saleId, status: snap.status });
      this.last.set(saleId, snap);
    });
  }
}
