/** A sale as stored in PostgreSQL (camelCased). */
export type SaleRecord = {
  id: string;
  productId: string;
  name: string;
  startsAt: Date;
  endsAt: Date;
  stock: number;
  perUserLimit: number;
  priceCents: number;
  holdSeconds: number;
  /** false: left out of the public list (load tests, private drops); still reachable by id. */
  listed: boolean;
  /** `sale.low_stock` fires when PostgreSQL's remaining falls to this or below (null: never). */
  lowStockThreshold: number | null;
  cancelledAt: Date | null;
  /** A waiting room is on: shoppers join its line and buy with a pass (settings: waiting-room module). */
  waitingRoom: boolean;
};

export type SaleStatus = 'upcoming' | 'active' | 'sold_out' | 'ended' | 'cancelled';

/** The sale resource of the HTTP contract. */
export type SaleView = {
  id: string;
  productId: string;
  name: string;
  startsAt: string;
  endsAt: string;
  status: SaleStatus;
  stock: number;
  perUserLimit: number;
  priceCents: number;
  holdSeconds: number;
  listed: boolean;
  lowStockThreshold: number | null;
  remaining: number;
  waitingRoom: boolean;
};

/** Status follows the clock, cancellation and the gate's remaining units, in that order of precedence. */
export function saleStatus(sale: Pick<SaleRecord, 'startsAt' | 'endsAt' | 'cancelledAt'>, remaining: number, now: Date): SaleStatus {
  if (sale.cancelledAt) return 'cancelled';
  if (now >= sale.endsAt) return 'ended';
  if (now < sale.startsAt) return 'upcoming';
  return remaining > 0 ? 'active' : 'sold_out';
}

export function toSaleView(sale: SaleRecord, remaining: number, now: Date): SaleView {
  return {
    id: sale.id,
    productId: sale.productId,
    name: sale.name,
    startsAt: sale.startsAt.toISOString(),
    endsAt: sale.endsAt.toISOString(),
    status: saleStatus(sale, remaining, now),
    stock: sale.stock,
    perUserLimit: sale.perUserLimit,
    priceCents: sale.priceCents,
    holdSeconds: sale.holdSeconds,
    listed: sale.listed,
    lowStockThreshold: sale.lowStockThreshold,
    remaining,
    waitingRoom: sale.waitingRoom,
  };
}
