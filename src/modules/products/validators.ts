import { z } from 'zod';
import { paginationSchema } from '../../http/validate';

const name = z.string().trim().min(1).max(200);
const priceCents = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const currency = z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as USD');
const description = z.string().max(5000);

export const createProductSchema = z.strictObject({
  sku: z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" or "-" only'),
  name,
  priceCents,
  currency: currency.optional(),
  description: description.optional(),
});

export type CreateProductInput = z.infer<typeof createProductSchema>;

/** A partial update: at least one field; the sku names the product for good and never changes. */
export const updateProductSchema = z
  .strictObject({
    sku: z.never({ error: 'sku cannot be changed; create a new product instead' }).optional(),
    name: name.optional(),
    priceCents: priceCents.optional(),
    currency: currency.optional(),
    // null clears the description.
    description: description.nullable().optional(),
  })
  .refine((p) => Object.values(p).some((v) => v !== undefined), { message: 'send at least one field to change' });

export type UpdateProductInput = Omit<z.infer<typeof updateProductSchema>, 'sku'>;

export const listProductsQuerySchema = paginationSchema;
