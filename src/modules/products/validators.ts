import { z } from 'zod';

export const createProductSchema = z.strictObject({
  sku: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-" only'),
  name: z.string().trim().min(1).max(200),
  priceCents: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD').optional(),
  description: z.string().max(5000).optional(),
});

export type CreateProductInput = z.infer<typeof createProductSchema>;
