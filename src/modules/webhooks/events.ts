/**
 * The events the engine reports to webhook endpoints. A delivery's body is
 * `{id, type, createdAt, data}`: `id` is the event's id (the same for every endpoint and
 * every attempt: receivers deduplicate on it), `data` one of the shapes below.
 */
export const WEBHOOK_EVENT_TYPES = [
  'purchase.confirmed',
  'purchase.rejected',
  'purchase.paid',
  'purchase.expired',
  'purchase.cancelled',
  'sale.started',
  'sale.sold_out',
  'sale.low_stock',
  'sale.ended',
  'sale.cancelled',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** A purchase event's data: the purchase as its owner reads it, plus who owns it. */
export type PurchaseEventData = {
  purchaseId: string;
  saleId: string;
  userId: string;
  quantity: number;
  status: 'confirmed' | 'rejected' | 'paid' | 'expired' | 'cancelled';
  reason?: string;
  orderId?: string;
  holdExpiresAt?: string;
  paidAt?: string;
  holdEndedAt?: string;
};

/** A sale event's data; `remaining` is PostgreSQL's count when the event was recorded. */
export type SaleEventData = {
  saleId: string;
  name: string;
  stock: number;
  remaining?: number;
  lowStockThreshold?: number;
};

export type NewEvent =
  | { type: Extract<WebhookEventType, `purchase.${string}`>; data: PurchaseEventData }
  | { type: Extract<WebhookEventType, `sale.${string}`>; data: SaleEventData };

/** The JSON body POSTed for an event (built once per event; every attempt sends the same bytes). */
export const eventBody = (e: { id: string; type: string; createdAt: Date; data: unknown }) =>
  JSON.stringify({ id: e.id, type: e.type, createdAt: e.createdAt.toISOString(), data: e.data });
