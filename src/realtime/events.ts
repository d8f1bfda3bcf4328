import { SaleStatus } from '../modules/sales/sale';
import { PurchaseView } from '../modules/purchases/view';
import type { LineState } from '../modules/waiting-room/state';

/** Your turn came: the pass to buy with (header `Sale-Pass`) until passExpiresAt. */
export type LineTurn = { saleId: string; placeId: string; pass: string; passExpiresAt: string };

/** The Socket.io contract, in one place: server and worker emitters are typed from it. */
/** A purchase changed state: the same resource `GET /api/purchases/:id` answers. */
export type PurchaseUpdate = PurchaseView;

export type ServerToClientEvents = {
  'purchase:update': (update: PurchaseUpdate) => void;
  'sale:stock': (stock: { saleId: string; remaining: number }) => void;
  'sale:status': (status: { saleId: string; status: SaleStatus }) => void;
  /** Your place in a line (what GET /api/sales/:id/line answers), after `line:watch` and as it moves. */
  'line:update': (state: LineState) => void;
  'line:turn': (turn: LineTurn) => void;
};

export type WatchAck = (reply: { ok: true } | { ok: false; error: { code: string; message: string } }) => void;

export type ClientToServerEvents = {
  'sale:watch': (req: { saleId: string }, ack?: WatchAck) => void;
  'sale:unwatch': (req: { saleId: string }) => void;
  /** Follow your place in a sale's line (you must have joined it). */
  'line:watch': (req: { saleId: string }, ack?: WatchAck) => void;
};

export type SocketData = { userId: string; role: 'admin' | 'shopper'; /** Epoch ms: the socket is closed then (token exp + leeway). */ validUntilMs: number };

/** Room names: a user's sockets, and the watchers of one sale. Only the server joins rooms. */
export const rooms = {
  user: (userId: string) => `user:${userId}`,
  sale: (saleId: string) => `sale:${saleId}`,
  /** Sockets following their place in a sale's line (each node pushes to its own). */
  line: (saleId: string) => `line:${saleId}`,
};

/** Pub/sub channel prefix shared by the API nodes' adapter and the workers' emitter. */
export const socketKey = (redisPrefix: string) => `${redisPrefix}:socket.io`;
