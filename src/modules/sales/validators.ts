import { z } from 'zod';
import { paginationSchema } from '../../http/validate';

const isoDate = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
const MAX_INT = 2_147_483_647;
const bothDates = (s: { startsAt: unknown; endsAt: unknown }) => s.startsAt instanceof Date && s.endsAt instanceof Date;

export const createSaleSchema = z
  .strictObject({
    productId: z.uuid(),
    name: z.string().trim().min(1).max(200),
    startsAt: isoDate,
    endsAt: isoDate,
    stock: z.number().int().min(1).max(10_000_000),
    perUserLimit: z.number().int().min(1).max(MAX_INT),
    priceCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    holdSeconds: z.number().int().min(1).max(86_400).optional(),
    listed: z.boolean().optional().describe('false: not in GET /api/sales (still reachable by id); default true'),
    lowStockThreshold: z.number().int().min(0).max(10_000_000).nullable().optional().describe('sale.low_stock fires once each time remaining falls to this or below; null or absent: never'),
  })
  // zod still runs object refinements after a field failed its format check, so the
  // dates may be raw strings here: compare only real dates (the format issue is already reported).
  .refine((s) => !bothDates(s) || s.endsAt > s.startsAt, { path: ['endsAt'], message: 'must be after startsAt' })
  .refine((s) => !(s.endsAt instanceof Date) || s.endsAt.getTime() > Date.now(), { path: ['endsAt'], message: 'must be in the future' })
  .refine((s) => typeof s.stock !== 'number' || s.perUserLimit <= s.stock, { path: ['perUserLimit'], message: 'must not exceed stock' });

export type CreateSaleInput = z.infer<typeof createSaleSchema>;

export const SALE_STATUSES = ['upcoming', 'active', 'sold_out', 'ended', 'cancelled'] as const;

export const listSalesQuerySchema = paginationSchema.extend({
  status: z.enum(SALE_STATUSES).optional(),
});

/** The admin list: the public filters plus the product. */
export const adminListSalesQuerySchema = listSalesQuerySchema.extend({
  productId: z.uuid().optional(),
});

/**
 * A partial sale update. Rules that need the stored sale (has it started? what is
 * sold?) are the service's; here only what the body alone can tell.
 */
export const updateSaleSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    startsAt: isoDate.optional(),
    endsAt: isoDate.optional(),
    stock: z.number().int().min(1).max(10_000_000).optional(),
    perUserLimit: z.number().int().min(1).max(MAX_INT).optional(),
    priceCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    holdSeconds: z.number().int().min(1).max(86_400).optional(),
    listed: z.boolean().optional(),
    lowStockThreshold: z.number().int().min(0).max(10_000_000).nullable().optional().describe('sale.low_stock fires once each time remaining falls to this or below; null or absent: never'),
  })
  .refine((s) => Object.values(s).some((v) => v !== undefined), { message: 'send at least one field to change' })
  .refine((s) => !(s.startsAt instanceof Date && s.endsAt instanceof Date) || s.endsAt > s.startsAt, { path: ['endsAt'], message: 'must be after startsAt' })
  .refine((s) => !(s.endsAt instanceof Date) || s.endsAt.getTime() > Date.now(), { path: ['endsAt'], message: 'must be in the future' })
  .refine((s) => typeof s.stock !== 'number' || typeof s.perUserLimit !== 'number' || s.perUserLimit <= s.stock, {
    path: ['perUserLimit'],
    message: 'must not exceed stock',
  });

export type UpdateSaleInput = z.infer<typeof updateSaleSchema>;

/** Cancel takes no input: no body, or an empty object. */
export const cancelSaleSchema = z.strictObject({}).optional();

/** The audit's timeline bucket: `?bucketMs=` (10 ms to 60 s; 1 s by default), so a two-second run still draws a curve. */
export const auditQuerySchema = z.strictObject({
  bucketMs: z.coerce.number().int().min(10).max(60_000).optional(),
});

/**
 * A sale's waiting room (README "Waiting room"). Off unless `enabled`; `opensAt` defaults
 * to 10 minutes before the sale starts. `margin`: passes allowed out beyond the units left
 * (shoppers who drop out or buy fewer than the limit). `proofOfWork`: false, or what joining costs.
 */
const waitingRoomFields = {
  enabled: z.boolean().describe('false (default): no line, purchases need no pass'),
  opensAt: isoDate.nullable().describe('when shoppers may join; null: 10 minutes before startsAt'),
  admitPerSecond: z.number().min(0.1).max(100_000).describe('shoppers given their turn per second'),
  passSeconds: z.number().int().min(10).max(3600).describe('how long a turn (its pass) lasts'),
  margin: z.number().int().min(0).max(1_000_000).describe('passes allowed out beyond the units left'),
  paused: z.boolean().describe('true: nobody new is given a turn'),
  proofOfWork: z
    .union([z.literal(false), z.number().int().min(100).max(50_000_000)])
    .describe('false, or the difficulty of the proof of work joining costs (about difficulty / 2 SHA-256 runs; GET .../line/challenge)'),
};

export const WAITING_ROOM_DEFAULTS = { enabled: false, opensAt: null, admitPerSecond: 50, passSeconds: 120, margin: 0, paused: false, proofOfWork: false } as const;

/** PUT /api/admin/sales/:saleId/waiting-room: the whole settings (missing fields take the defaults). */
export const waitingRoomSchema = z.strictObject({
  enabled: waitingRoomFields.enabled,
  opensAt: waitingRoomFields.opensAt.optional(),
  admitPerSecond: waitingRoomFields.admitPerSecond.optional(),
  passSeconds: waitingRoomFields.passSeconds.optional(),
  margin: waitingRoomFields.margin.optional(),
  paused: waitingRoomFields.paused.optional(),
  proofOfWork: waitingRoomFields.proofOfWork.optional(),
});

/** PATCH /api/admin/sales/:saleId/waiting-room: live changes (pause, resume, the rate, ...). */
export const waitingRoomPatchSchema = z
  .strictObject(Object.fromEntries(Object.entries(waitingRoomFields).map(([k, v]) => [k, v.optional()])) as { [K in keyof typeof waitingRoomFields]: z.ZodOptional<(typeof waitingRoomFields)[K]> })
  .refine((s) => Object.values(s).some((v) => v !== undefined), { message: 'send at least one field to change' });

export type WaitingRoomInput = z.infer<typeof waitingRoomSchema>;
export type WaitingRoomPatch = z.infer<typeof waitingRoomPatchSchema>;
/** Stored on the sale (`sales.waiting_room`), every field set. */
export type WaitingRoomSettings = { enabled: boolean; opensAt: Date | null; admitPerSecond: number; passSeconds: number; margin: number; paused: boolean; proofOfWork: false | number };
