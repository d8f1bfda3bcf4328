import { z } from 'zod';
import { paginationSchema } from '../../http/validate';

export const listDeadLettersQuerySchema = paginationSchema.extend({
  kind: z.enum(['webhook', 'purchase']).optional().describe('Only this kind; both by default'),
});

/** A replay takes no parameters: no body, or an empty JSON object. */
export const replayBodySchema = z.strictObject({}).optional();
