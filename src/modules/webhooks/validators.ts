import { z } from 'zod';
import { paginationSchema } from '../../http/validate';
import { WEBHOOK_EVENT_TYPES } from './events';

const httpUrl = z
  .url({ protocol: /^https?$/ })
  .max(2048)
  .describe('Where events are POSTed (http or https; redirects are not followed)');

export const createEndpointSchema = z.strictObject({
  url: httpUrl,
  secret: z
    .string()
    .min(16)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'visible ASCII only')
    .optional()
    .describe('The signing secret; left out, one is generated (whsec_...). Either way it is answered only by this call'),
  eventTypes: z
    .array(z.enum(WEBHOOK_EVENT_TYPES))
    .min(1)
    .refine((a) => new Set(a).size === a.length, 'must not repeat a type')
    .optional()
    .describe('The events this endpoint receives; left out, all of them'),
  description: z.string().trim().min(1).max(200).optional(),
});

export type CreateEndpointInput = z.infer<typeof createEndpointSchema>;

export const listEndpointsQuerySchema = paginationSchema;
