import { z } from 'zod';
import { errorWith } from './response-schemas';
import { uuidSchema } from './validate';

/**
 * What an OpenAPI operation says, and the building blocks each module's `openapi.ts`
 * uses to describe its routes beside its router; http/openapi.ts collects them into the
 * document.
 */

export type Auth = 'none' | 'shopper' | 'admin';
export type HttpMethod = 'get' | 'post' | 'patch' | 'put' | 'delete';

export type ResponseSpec = {
  description: string;
  /** The JSON body; absent for non-JSON answers (see contentType). */
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
  /** Sets Retry-After (429, 503). */
  retryAfter?: boolean;
  headers?: Record<string, { description: string; schema: Record<string, unknown> }>;
  /** An error response: the codes it may carry (its schema is the envelope restricted to them). */
  codes?: readonly [string, ...string[]];
};

export type Operation = {
  method: HttpMethod;
  /** The Express path, e.g. `/api/sales/:saleId`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  auth: Auth;
  params?: Record<string, { description: string; schema: z.ZodType }>;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Takes the optional `Idempotency-Key` header. */
  idempotencyKey?: boolean;
  /** The route's own answers; auth, body and query errors are added from `auth`, `body` and `query`. */
  responses: Record<number, ResponseSpec>;
  /**
   * Documented ahead of its route, which another change is adding: the coverage test
   * accepts it missing from the app, and fails once it is registered so this flag goes
   * (and its placeholder schema is swapped for the route's validator).
   */
  pending?: string;
};

/* ---------------- building blocks ---------------- */

export const err = (description: string, ...codes: [string, ...string[]]): ResponseSpec => ({ description, schema: errorWith(codes), codes });
export const retryable = (description: string, ...codes: [string, ...string[]]): ResponseSpec => ({ ...err(description, ...codes), retryAfter: true });

export const saleIdParam = { saleId: { description: 'Sale id (UUID); a malformed id is 404 SALE_NOT_FOUND', schema: uuidSchema } };
export const purchaseIdParam = { purchaseId: { description: 'Purchase id (UUID); a malformed id is 404 PURCHASE_NOT_FOUND', schema: uuidSchema } };
export const productIdParam = { productId: { description: 'Product id (UUID); a malformed id is 404 PRODUCT_NOT_FOUND', schema: uuidSchema } };

export const saleNotFound = err('No such sale', 'SALE_NOT_FOUND');
export const purchaseNotFound = err('No such purchase, or not yours', 'PURCHASE_NOT_FOUND');
export const productNotFound = err('No such product', 'PRODUCT_NOT_FOUND');
