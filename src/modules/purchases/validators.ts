import { z } from 'zod';

/** Quantity bounds against the sale's own limit are checked by the Lua gate. */
export const attemptBodySchema = z
  .strictObject({
    quantity: z.number().int().min(1).max(1_000_000).optional(),
  })
  .optional();

/** 1-128 visible ASCII characters. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,128}$/, 'must be 1-128 visible ASCII characters');

/** Cancelling a hold takes no input: no body, or an empty object. */
export const cancelBodySchema = z.strictObject({}).optional();
