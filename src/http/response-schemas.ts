import { z } from 'zod';
import type { Product } from '../modules/products/repository';
import type { AttemptResult } from '../modules/purchases/admission/admission';
import type { PurchaseStatus, PurchaseView } from '../modules/purchases/view';
import type { SaleAudit } from '../modules/sales/audit';
import type { CancelReport } from '../modules/sales/lifecycle';
import type { ReconcileReport } from '../modules/recovery/reconcile';
import type { SaleView } from '../modules/sales/sale';
import type { SaleStats } from '../modules/sales/service';
import { SALE_STATUSES } from '../modules/sales/validators';

/**
 * What the API answers, as zod schemas: the one source of the OpenAPI document's
 * response schemas (src/http/openapi.ts) and of the test that checks every response
 * the suite saw against them (test/openapi-conformance.test.ts). Objects are strict, so
 * a field the server sends but the document does not name is a mismatch too.
 *
 * Each schema is checked at compile time against the TypeScript type the code builds
 * the response from (`ResponseSchemasMatchTheirTypes` below): a field added to `SaleView` and not here, or
 * the other way round, fails `tsc`.
 */

const uuid = z.uuid();
const timestamp = z.iso.datetime();
const count = z.number().int().min(0);
const money = z.number().int().min(0);

/* ---------------- errors ---------------- */

const errorCode = z.string().regex(/^[A-Z][A-Z0-9_]*$/);

/** `{"error": {"code", "message", "details"?}}`: every error the API answers. */
export const errorSchema = z
  .strictObject({
    error: z.strictObject({
      code: errorCode.describe('UPPER_SNAKE error code'),
      message: z.string().describe('For humans; may change'),
      details: z.unknown().optional().describe('e.g. every validation problem: [{path, message}]'),
    }),
  })
  .describe('The error envelope');

/** The error envelope restricted to the codes one response may carry. */
export function errorWith(codes: readonly [string, ...string[]]) {
  return z.strictObject({
    error: z.strictObject({
      code: z.enum(codes),
      message: z.string(),
      details: z.unknown().optional(),
    }),
  });
}

/* ---------------- sales ---------------- */

export const saleSchema = z.strictObject({
  id: uuid,
  productId: uuid,
  name: z.string(),
  startsAt: timestamp,
  endsAt: timestamp,
  status: z.enum(SALE_STATUSES),
  stock: count,
  perUserLimit: count,
  priceCents: money,
  holdSeconds: count.describe('How long a confirmed purchase may stay unpaid'),
  listed: z.boolean().describe('false: left out of GET /api/sales; reachable by id'),
  lowStockThreshold: count.nullable().describe('sale.low_stock webhook fires when remaining falls to this or below; null: never'),
  waitingRoom: z.boolean().describe('true: shoppers join the line (POST /api/sales/:id/line) and buy with the pass their turn gives'),
  remaining: count.describe("Units a new attempt could still get right now (the Redis gate's view)"),
});

const gateAndDb = z.strictObject({ redis: count.nullable().describe('null: Redis has no record of the sale'), postgres: count });

/** What became of a sale's purchases (PostgreSQL): the same blocks in the stats and the audit. */
const outcomeBlocks = {
  stock: count,
  decided: z
    .strictObject({ confirmed: count, rejected: count, byReason: z.record(errorCode, count) })
    .describe('Purchases a worker decided (202 -> decision); confirmed counts every one ordered, whatever became of its hold since'),
  holds: z
    .strictObject({ held: count, paid: count, expired: count, cancelled: count })
    .describe('What became of the confirmed purchases: still held (unpaid), paid, expired, cancelled by the shopper; they sum to decided.confirmed'),
  units: z
    .strictObject({ sold: count, held: count, returned: count, rejected: count })
    .describe('Units: sold (paid), held (awaiting payment), returned (by expired or cancelled holds), rejected; sold + held + remaining.postgres = stock'),
  orders: z.strictObject({ count, units: count }).describe('Orders standing (an ended hold voids its order)'),
};

export const saleStatsSchema = z.strictObject({
  saleId: uuid,
  ...outcomeBlocks,
  remaining: gateAndDb,
  admitted: count.describe('Purchases the gate admitted (Redis)'),
  refused: z.record(errorCode, count).describe('Attempts refused with a 409 before anything was taken, by code (Redis)'),
  queue: z
    .strictObject({ waiting: count, active: count, delayed: count, failed: count })
    .describe("Jobs in the sale's purchase queue shard (shared with the other sales of that shard): one job holds the purchases an API node admitted together"),
  drift: z.number().int().nullable().describe('Redis remaining + pending units - PostgreSQL remaining; 0 when they agree'),
});

export const saleAuditSchema = z.strictObject({
  saleId: uuid,
  ...outcomeBlocks,
  perUserLimit: count,
  remaining: gateAndDb,
  admitted: z.strictObject({ purchases: count, units: count }),
  maxUnitsPerUser: count,
  usersOverLimit: count,
  purchasesWithMultipleOrders: count,
  ordersNotConfirmed: count,
  decisionLatencyMs: z.strictObject({ p50: count, p99: count, max: count }).describe('202 -> decision; a hold ending later does not move it'),
  timeline: z
    .strictObject({ bucketMs: count, points: z.array(z.strictObject({ atMs: count, confirmed: count, rejected: count })) })
    .describe('Decisions per bucket (bucket start, epoch ms)'),
});

export const reconcileReportSchema = z.strictObject({
  saleId: uuid,
  keysWereMissing: z.boolean(),
  before: z.strictObject({ redisRemaining: count.nullable(), pgRemaining: count }),
  after: z.strictObject({ redisRemaining: count, pgRemaining: count }),
  stock: count,
  sold: count,
  held: count,
  inflight: z.strictObject({ purchases: count, units: count }),
  settled: count,
  orphansRejected: count,
  drift: z.number().int().nullable(),
});

export const cancelReportSchema = saleSchema.extend({
  cancelledAt: timestamp,
  confirmedOrders: count,
  unitsSold: count,
  queuedAtCancel: count.describe('Purchases admitted but undecided at the cancel: each ends rejected, SALE_CANCELLED'),
});

/* ---------------- purchases ---------------- */

export const PURCHASE_STATUSES = ['queued', 'confirmed', 'rejected', 'paid', 'expired', 'cancelled'] as const;

const purchaseCommon = { purchaseId: uuid, saleId: uuid, quantity: count, createdAt: timestamp };
const holdEnd = { reason: errorCode.describe('HOLD_EXPIRED or CANCELLED_BY_SHOPPER'), holdEndedAt: timestamp.describe('When the hold ended; the units went back on sale') };

/** One object per state, each with exactly the fields that state carries (every read of a purchase builds it in modules/purchases/view.ts). */
const purchaseStates = [
  z.strictObject({ ...purchaseCommon, status: z.literal('queued').describe('Admitted; a worker decides it within seconds') }),
  z.strictObject({
    ...purchaseCommon,
    status: z.literal('confirmed').describe('Ordered; the units are held until holdExpiresAt'),
    orderId: uuid,
    holdExpiresAt: timestamp.describe('Pay before then, or the hold ends and the units go back on sale'),
  }),
  z.strictObject({ ...purchaseCommon, status: z.literal('paid').describe('Bought'), orderId: uuid, paidAt: timestamp }),
  z.strictObject({ ...purchaseCommon, status: z.literal('rejected').describe('Not ordered; nothing was taken'), reason: errorCode.describe('Why it was rejected') }),
  z.strictObject({ ...purchaseCommon, status: z.literal('expired').describe('The hold ended unpaid'), ...holdEnd }),
  z.strictObject({ ...purchaseCommon, status: z.literal('cancelled').describe('The shopper gave the hold up'), ...holdEnd }),
] as const;

export const purchaseSchema = z.discriminatedUnion('status', purchaseStates).describe('A purchase; its fields depend on its status');

const statusUrl = z.string().regex(/^\/api\/purchases\/[0-9a-f-]{36}$/).describe('Poll this for the outcome');
export const attemptReplySchema = z
  .discriminatedUnion('status', [
    purchaseStates[0].extend({ statusUrl }),
    purchaseStates[1].extend({ statusUrl }),
    purchaseStates[2].extend({ statusUrl }),
    purchaseStates[3].extend({ statusUrl }),
    purchaseStates[4].extend({ statusUrl }),
    purchaseStates[5].extend({ statusUrl }),
  ])
  .describe('The purchase (as GET statusUrl answers it) and where to poll it');

/* ---------------- products ---------------- */

export const productSchema = z.strictObject({
  id: uuid,
  sku: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  priceCents: money,
  currency: z.string().regex(/^[A-Z]{3}$/),
  createdAt: timestamp,
  updatedAt: timestamp,
});

/* ---------------- lists ---------------- */

export function pageOf<T extends z.ZodType>(item: T) {
  return z.strictObject({ items: z.array(item), limit: z.number().int().min(1).max(100), offset: count });
}

export const saleListSchema = pageOf(saleSchema);
export const purchaseListSchema = pageOf(purchaseSchema);
export const productListSchema = pageOf(productSchema);

/* ---------------- health ---------------- */

const check = z.strictObject({ ok: z.boolean(), ms: count, error: z.string().optional() });

export const healthLiveSchema = z.strictObject({ status: z.literal('ok') });
export const healthReadySchema = z.strictObject({
  status: z.enum(['ok', 'unavailable']),
  checks: z.strictObject({ postgres: check, redis: check, queue: check }),
});
export const healthDeepSchema = z.strictObject({
  status: z.enum(['ok', 'degraded']),
  checks: z.strictObject({ postgres: check, redis: check, queue: check.extend({ counts: z.record(z.string(), count) }) }),
});

/* ---------------- the document itself ---------------- */

export const openApiDocumentSchema = z.looseObject({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
  components: z.looseObject({}),
});

/** Named schemas: they become `#/components/schemas/<name>` in the document. */
export const namedResponseSchemas = {
  Error: errorSchema,
  Sale: saleSchema,
  SaleList: saleListSchema,
  SaleStats: saleStatsSchema,
  SaleAudit: saleAuditSchema,
  ReconcileReport: reconcileReportSchema,
  CancelReport: cancelReportSchema,
  Purchase: purchaseSchema,
  PurchaseList: purchaseListSchema,
  AttemptReply: attemptReplySchema,
  Product: productSchema,
  ProductList: productListSchema,
  HealthLive: healthLiveSchema,
  HealthReady: healthReadySchema,
  HealthDeep: healthDeepSchema,
} as const;

/* ---------------- compile-time agreement with the code's own types ---------------- */

/** Mutually assignable and with the same keys (assignability alone ignores a missing optional field). */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false) : false) : false;
type Assert<T extends true> = T;

/** Compile-time only: each line fails `tsc` when a schema and its type drift apart. */
export type ResponseSchemasMatchTheirTypes = [
  Assert<Same<z.infer<typeof saleSchema>, SaleView>>,
  Assert<Same<z.infer<typeof saleStatsSchema>, SaleStats>>,
  Assert<Same<z.infer<typeof saleAuditSchema>, SaleAudit>>,
  Assert<Same<z.infer<typeof reconcileReportSchema>, ReconcileReport>>,
  Assert<Same<z.infer<typeof cancelReportSchema>, CancelReport>>,
  Assert<Same<z.infer<typeof purchaseSchema>, PurchaseView>>,
  Assert<Same<(typeof PURCHASE_STATUSES)[number], PurchaseStatus>>,
  Assert<Same<z.infer<typeof attemptReplySchema>, AttemptResult['purchase'] & { statusUrl: string }>>,
  Assert<Same<z.infer<typeof productSchema>, Product>>,
];
