import { z } from 'zod';

/** The published order, a page at a time (up to 5,000 places). */
export const placesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(5000).default(1000),
  offset: z.coerce.number().int().min(0).default(0),
});
