import { z } from 'zod';
import { reconcileBodySchema } from '../modules/recovery/routes';
import { payBodySchema } from '../modules/purchases/payment';
import { attemptBodySchema, idempotencyKeySchema } from '../modules/purchases/validators';
import { createProductSchema, listProductsQuerySchema, updateProductSchema } from '../modules/products/validators';
import { adminListSalesQuerySchema, cancelSaleSchema, createSaleSchema, listSalesQuerySchema, updateSaleSchema } from '../modules/sales/validators';
import {
  attemptReplySchema,
  cancelReportSchema,
  errorWith,
  healthDeepSchema,
  healthLiveSchema,
  healthReadySchema,
  namedResponseSchemas,
  openApiDocumentSchema,
  productListSchema,
  productSchema,
  purchaseListSchema,
  purchaseSchema,
  reconcileReportSchema,
  saleAuditSchema,
  saleListSchema,
  saleSchema,
  saleStatsSchema,
} from './response-schemas';
import { paginationSchema, uuidSchema } from './validate';

/**
 * The OpenAPI 3.1 document, built from the zod schemas that validate requests (imported
 * from each module's validators, never copied) and those in response-schemas.ts. Every
 * route is described once, in `operations`; test/openapi.test.ts fails when a route the
 * app registers is missing here (or the other way round), and
 * test/openapi-conformance.test.ts checks every response the suite saw against it.
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

const err = (description: string, ...codes: [string, ...string[]]): ResponseSpec => ({ description, schema: errorWith(codes), codes });
const retryable = (description: string, ...codes: [string, ...string[]]): ResponseSpec => ({ ...err(description, ...codes), retryAfter: true });

const saleIdParam = { saleId: { description: 'Sale id (UUID); a malformed id is 404 SALE_NOT_FOUND', schema: uuidSchema } };
const purchaseIdParam = { purchaseId: { description: 'Purchase id (UUID); a malformed id is 404 PURCHASE_NOT_FOUND', schema: uuidSchema } };
const productIdParam = { productId: { description: 'Product id (UUID); a malformed id is 404 PRODUCT_NOT_FOUND', schema: uuidSchema } };

const saleNotFound = err('No such sale', 'SALE_NOT_FOUND');
const purchaseNotFound = err('No such purchase, or not yours', 'PURCHASE_NOT_FOUND');
const productNotFound = err('No such product', 'PRODUCT_NOT_FOUND');



/* ---------------- every route, once ---------------- */

export const operations: Operation[] = [
  // Shopper / public
  {
    method: 'get',
    path: '/api/sales',
    operationId: 'listSales',
    summary: 'List sales',
    description: 'Newest first, with live `remaining`; filter by `status`.',
    tags: ['sales'],
    auth: 'none',
    query: listSalesQuerySchema,
    responses: { 200: { description: 'A page of sales', schema: saleListSchema } },
  },
  {
    method: 'get',
    path: '/api/sales/:saleId',
    operationId: 'getSale',
    summary: 'One sale, with live remaining',
    tags: ['sales'],
    auth: 'none',
    params: saleIdParam,
    responses: { 200: { description: 'The sale', schema: saleSchema }, 404: saleNotFound },
  },
  {
    method: 'post',
    path: '/api/sales/:saleId/purchases',
    operationId: 'attemptPurchase',
    summary: 'Attempt a purchase',
    description:
      'Admits the attempt (Redis gate) and queues it; poll `statusUrl` or listen on Socket.io for the outcome. ' +
      'The same `Idempotency-Key` with the same body returns the same purchase; with a different quantity, 409 IDEMPOTENCY_CONFLICT. ' +
      'Refused attempts are not remembered under their key.',
    tags: ['purchases'],
    auth: 'shopper',
    params: saleIdParam,
    body: attemptBodySchema,
    idempotencyKey: true,
    responses: {
      202: {
        description: 'Admitted and queued',
        schema: attemptReplySchema,
        headers: { Location: { description: 'The purchase (same as statusUrl)', schema: { type: 'string' } } },
      },
      200: { description: 'The purchase this Idempotency-Key already made (nothing taken again)', schema: attemptReplySchema },
      404: saleNotFound,
      409: err('Refused: nothing was taken', 'SOLD_OUT', 'LIMIT_EXCEEDED', 'SALE_NOT_STARTED', 'SALE_ENDED', 'SALE_CANCELLED', 'IDEMPOTENCY_CONFLICT'),
      429: retryable('Too many attempts from this shopper or IP', 'RATE_LIMITED'),
      503: retryable(
        'Not admitted now (queue backlog over its bound, sale being restored, queue unreachable): nothing was taken',
        'OVERLOADED',
        'SALE_UNAVAILABLE',
        'QUEUE_UNAVAILABLE',
      ),
    },
  },
  {
    method: 'get',
    path: '/api/purchases/:purchaseId',
    operationId: 'getPurchase',
    summary: "A purchase's status (owner only)",
    description: 'Served from Redis while hot. Anyone but the owner gets 404.',
    tags: ['purchases'],
    auth: 'shopper',
    params: purchaseIdParam,
    responses: { 200: { description: 'The purchase', schema: purchaseSchema }, 404: purchaseNotFound },
  },
  {
    method: 'post',
    path: '/api/purchases/:purchaseId/pay',
    operationId: 'payPurchase',
    summary: 'Pay a confirmed purchase (owner only)',
    description:
      'The simulated provider approves `tok_approve`, declines `tok_decline` (still payable until the hold ends) and times out on `tok_timeout`. ' +
      'Paying a paid purchase again returns it unchanged.',
    tags: ['purchases'],
    auth: 'shopper',
    params: purchaseIdParam,
    body: payBodySchema,
    responses: {
      200: { description: 'Paid (or already paid)', schema: purchaseSchema },
      402: err('The provider declined; still payable until the hold ends', 'PAYMENT_DECLINED'),
      404: purchaseNotFound,
      409: err(
        'Not payable: the hold ended (PURCHASE_EXPIRED), still queued (PURCHASE_NOT_CONFIRMED) or rejected / cancelled (PURCHASE_NOT_PAYABLE)',
        'PURCHASE_EXPIRED',
        'PURCHASE_NOT_CONFIRMED',
        'PURCHASE_NOT_PAYABLE',
      ),
      504: retryable('The provider did not answer in time; still payable until the hold ends', 'PAYMENT_TIMEOUT'),
    },
  },
  {
    method: 'get',
    path: '/api/me/purchases',
    operationId: 'listMyPurchases',
    summary: "The caller's purchases, newest first",
    tags: ['purchases'],
    auth: 'shopper',
    query: paginationSchema,
    responses: { 200: { description: 'A page of purchases', schema: purchaseListSchema } },
  },

  // Health and documentation
  {
    method: 'get',
    path: '/api/health',
    operationId: 'health',
    summary: 'Deep health: PostgreSQL, Redis, queue',
    tags: ['health'],
    auth: 'none',
    responses: {
      200: { description: 'All good', schema: healthDeepSchema },
      503: { description: 'A dependency failed', schema: healthDeepSchema },
    },
  },
  {
    method: 'get',
    path: '/api/health/live',
    operationId: 'healthLive',
    summary: 'Liveness: the process answers',
    tags: ['health'],
    auth: 'none',
    responses: { 200: { description: 'Alive', schema: healthLiveSchema } },
  },
  {
    method: 'get',
    path: '/api/health/ready',
    operationId: 'healthReady',
    summary: 'Readiness: PostgreSQL and Redis answer and the process is not shutting down',
    tags: ['health'],
    auth: 'none',
    responses: {
      200: { description: 'Ready', schema: healthReadySchema },
      503: { description: 'Not ready', schema: healthReadySchema },
    },
  },
  {
    method: 'get',
    path: '/api/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    tags: ['docs'],
    auth: 'none',
    responses: { 200: { description: 'OpenAPI 3.1', schema: openApiDocumentSchema } },
  },
  {
    method: 'get',
    path: '/api/docs',
    operationId: 'docs',
    summary: 'A page that renders this document',
    tags: ['docs'],
    auth: 'none',
    responses: { 200: { description: 'HTML', contentType: 'text/html' } },
  },

  // Admin: products
  {
    method: 'post',
    path: '/api/admin/products',
    operationId: 'createProduct',
    summary: 'Create a product',
    tags: ['admin: products'],
    auth: 'admin',
    body: createProductSchema,
    responses: { 201: { description: 'Created', schema: productSchema }, 409: err('The sku is taken', 'SKU_TAKEN') },
  },
  {
    method: 'get',
    path: '/api/admin/products',
    operationId: 'listProducts',
    summary: 'List products, newest first',
    tags: ['admin: products'],
    auth: 'admin',
    query: listProductsQuerySchema,
    responses: { 200: { description: 'A page of products', schema: productListSchema } },
  },
  {
    method: 'get',
    path: '/api/admin/products/:productId',
    operationId: 'getProduct',
    summary: 'One product',
    tags: ['admin: products'],
    auth: 'admin',
    params: productIdParam,
    responses: { 200: { description: 'The product', schema: productSchema }, 404: productNotFound },
  },
  {
    method: 'patch',
    path: '/api/admin/products/:productId',
    operationId: 'updateProduct',
    summary: 'Change a product (the sku never changes)',
    tags: ['admin: products'],
    auth: 'admin',
    params: productIdParam,
    body: updateProductSchema,
    responses: { 200: { description: 'The changed product', schema: productSchema }, 404: productNotFound },
  },

  // Admin: sales
  {
    method: 'post',
    path: '/api/admin/sales',
    operationId: 'createSale',
    summary: 'Create a sale',
    description: '`startsAt` may be in the past for an immediately active sale; `endsAt` must be after both `startsAt` and now.',
    tags: ['admin: sales'],
    auth: 'admin',
    body: createSaleSchema,
    responses: { 201: { description: 'Created; its gate is open in Redis', schema: saleSchema }, 404: productNotFound },
  },
  {
    method: 'get',
    path: '/api/admin/sales',
    operationId: 'adminListSales',
    summary: 'List sales (filter by status and product)',
    tags: ['admin: sales'],
    auth: 'admin',
    query: adminListSalesQuerySchema,
    responses: { 200: { description: 'A page of sales', schema: saleListSchema } },
  },
  {
    method: 'get',
    path: '/api/admin/sales/:saleId',
    operationId: 'adminGetSale',
    summary: 'One sale',
    tags: ['admin: sales'],
    auth: 'admin',
    params: saleIdParam,
    responses: { 200: { description: 'The sale', schema: saleSchema }, 404: saleNotFound },
  },
  {
    method: 'patch',
    path: '/api/admin/sales/:saleId',
    operationId: 'updateSale',
    summary: 'Change a sale',
    description: 'Before the start anything may change; once started only `name`, a later `endsAt` and more `stock`.',
    tags: ['admin: sales'],
    auth: 'admin',
    params: saleIdParam,
    body: updateSaleSchema,
    responses: {
      200: { description: 'The changed sale', schema: saleSchema },
      404: saleNotFound,
      409: err('The change is not allowed now', 'SALE_STARTED', 'STOCK_BELOW_SOLD', 'SALE_CANCELLED', 'SALE_ENDED'),
      503: retryable('The sale is being restored in Redis', 'SALE_UNAVAILABLE'),
    },
  },
  {
    method: 'post',
    path: '/api/admin/sales/:saleId/cancel',
    operationId: 'cancelSale',
    summary: 'Cancel a sale',
    description: 'Stops admissions at once; queued purchases end rejected (SALE_CANCELLED); confirmed orders stand. Cancelling again answers the same report.',
    tags: ['admin: sales'],
    auth: 'admin',
    params: saleIdParam,
    body: cancelSaleSchema,
    responses: {
      200: { description: 'The cancelled sale and what it had', schema: cancelReportSchema },
      404: saleNotFound,
      409: err('The sale has ended', 'SALE_ENDED'),
    },
  },
  {
    method: 'post',
    path: '/api/admin/sales/:saleId/reconcile',
    operationId: 'reconcileSale',
    summary: "Rebuild the sale's Redis gate from PostgreSQL",
    tags: ['admin: sales'],
    auth: 'admin',
    params: saleIdParam,
    body: reconcileBodySchema,
    responses: { 200: { description: 'What was found and done', schema: reconcileReportSchema }, 404: saleNotFound },
  },
  {
    method: 'get',
    path: '/api/admin/sales/:saleId/audit',
    operationId: 'auditSale',
    summary: 'What PostgreSQL knows after a run',
    tags: ['admin: sales'],
    auth: 'admin',
    params: saleIdParam,
    responses: { 200: { description: 'The audit', schema: saleAuditSchema }, 404: saleNotFound },
  },
  {
    method: 'get',
    path: '/api/admin/sales/:saleId/stats',
    operationId: 'saleStats',
    summary: 'Live counters',
    tags: ['admin: sales'],
    auth: 'admin',
    params: saleIdParam,
    responses: { 200: { description: 'The counters', schema: saleStatsSchema }, 404: saleNotFound },
  },
];

/* ---------------- what every operation may also answer ---------------- */

/**
 * The responses an operation has in full: its own, plus the auth, body and query errors
 * its `auth`, `body` and `query` imply. The conformance test reads the same table.
 */
export function responsesOf(op: Operation): Record<number, ResponseSpec> {
  const out: Record<number, ResponseSpec> = {};
  const invalid: string[] = [];
  if (op.body) invalid.push('body');
  if (op.query) invalid.push('query');
  if (op.idempotencyKey) invalid.push('Idempotency-Key header');
  if (invalid.length > 0) out[400] = err(`Invalid ${invalid.join(' or ')} (every problem in details)`, 'VALIDATION_FAILED');
  if (op.auth !== 'none') out[401] = err('No, forged or expired bearer token', 'UNAUTHENTICATED');
  if (op.auth === 'admin') out[403] = err('Valid token, but not an admin', 'FORBIDDEN');
  if (op.body) {
    out[413] = err('Body over the size limit', 'PAYLOAD_TOO_LARGE');
    out[415] = err('Body not application/json, or an unsupported encoding', 'UNSUPPORTED_MEDIA_TYPE');
  }
  const all: Record<number, ResponseSpec> = { ...out, ...op.responses };
  // Any route that reaches a store may find it down (health routes report it in their own body).
  if (!op.tags.includes('health')) {
    const own = all[503];
    if (!own) all[503] = retryable(STORE_DOWN, ...STORE_UNAVAILABLE_CODES);
    else if (own.codes) all[503] = retryable(`${own.description}; or ${STORE_DOWN}`, ...own.codes, ...STORE_UNAVAILABLE_CODES);
  }
  return all;
}

const STORE_UNAVAILABLE_CODES = ['REDIS_UNAVAILABLE', 'DATABASE_UNAVAILABLE'] as const;
const STORE_DOWN = 'a store (Redis or PostgreSQL) cannot answer now; retry after Retry-After (an attempt answered 503 is never confirmed later)';

/** `/api/sales/:saleId` -> `/api/sales/{saleId}`. */
export const toOpenApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/* ---------------- the document ---------------- */

type JsonSchema = Record<string, unknown>;

const registry = z.registry<{ id: string }>();
for (const [id, schema] of Object.entries(namedResponseSchemas)) registry.add(schema, { id });
const refOf = new Map<z.ZodType, string>(Object.entries(namedResponseSchemas).map(([id, s]) => [s, `#/components/schemas/${id}`]));

function clean(schema: JsonSchema): JsonSchema {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

/**
 * Request schemas in their input form (what a client sends: dates as strings, coerced
 * query numbers as integers). Refinements (e.g. "endsAt after startsAt") have no JSON
 * Schema form and are left to the description; `unrepresentable: 'any'` keeps a
 * transform from aborting the conversion.
 */
const requestJsonSchema = (schema: z.ZodType): JsonSchema =>
  clean(z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema);

const responseJsonSchema = (schema: z.ZodType): JsonSchema => {
  const ref = refOf.get(schema);
  if (ref) return { $ref: ref };
  return clean(z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' }) as JsonSchema);
};

/** The Error component with its `code` narrowed to the response's codes. */
const errorJsonSchema = (codes: readonly string[]): JsonSchema => ({
  $ref: '#/components/schemas/Error',
  properties: { error: { properties: { code: { enum: [...codes] } } } },
});

/** True when the schema accepts "nothing sent" (an optional body). */
const acceptsUndefined = (schema: z.ZodType) => schema.safeParse(undefined).success;

const retryAfterHeader = {
  'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer', minimum: 1 } },
};

function operationObject(op: Operation): JsonSchema {
  const parameters: JsonSchema[] = [];
  for (const [name, p] of Object.entries(op.params ?? {})) {
    parameters.push({ name, in: 'path', required: true, description: p.description, schema: requestJsonSchema(p.schema) });
  }
  if (op.query) {
    const q = requestJsonSchema(op.query) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, schema] of Object.entries(q.properties ?? {})) {
      parameters.push({ name, in: 'query', required: (q.required ?? []).includes(name), schema });
    }
  }
  if (op.idempotencyKey) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description: 'Scoped to the user and the sale; the same key returns the same purchase. Without one, every request is a new attempt.',
      schema: requestJsonSchema(idempotencyKeySchema),
    });
  }

  const responses: Record<string, JsonSchema> = {};
  const all = responsesOf(op);
  for (const status of Object.keys(all).map(Number).sort((a, b) => a - b)) {
    const r = all[status]!;
    const headers = { ...(r.retryAfter ? retryAfterHeader : {}), ...(r.headers ?? {}) };
    responses[String(status)] = {
      description: r.description,
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
      ...(r.schema
        ? { content: { [r.contentType ?? 'application/json']: { schema: r.codes ? errorJsonSchema(r.codes) : responseJsonSchema(r.schema) } } }
        : r.contentType
          ? { content: { [r.contentType]: {} } }
          : {}),
    };
  }

  return {
    operationId: op.operationId,
    summary: op.summary,
    ...(op.description ? { description: op.description } : {}),
    tags: op.tags,
    ...(op.auth === 'none' ? { security: [] } : {}),
    ...(op.auth === 'admin' ? { 'x-required-role': 'admin' } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(op.body
      ? {
          requestBody: {
            required: !acceptsUndefined(op.body),
            content: { 'application/json': { schema: requestJsonSchema(op.body) } },
          },
        }
      : {}),
    responses,
  };
}

/** Builds the document (cheap, but callers keep the result: it never changes at run time). */
export function buildOpenApiDocument(): JsonSchema {
  const components = z.toJSONSchema(registry, {
    io: 'output',
    target: 'draft-2020-12',
    unrepresentable: 'any',
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, JsonSchema> };

  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of operations) {
    const p = (paths[toOpenApiPath(op.path)] ??= {});
    if (p[op.method]) throw new Error(`OpenAPI: ${op.method.toUpperCase()} ${op.path} is described twice`);
    p[op.method] = operationObject(op);
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Flash-sale checkout engine',
      version: '0.1.0',
      description:
        'Shoppers attempt purchases the second a sale opens and learn the outcome by polling or over Socket.io; admins run products and sales. ' +
        'Every error is `{"error": {"code", "message"}}`. Bearer tokens are HS256 JWTs: `sub` is the user, `role: "admin"` for admins.',
    },
    servers: [{ url: '/' }],
    tags: [
      { name: 'sales', description: 'Public sale views' },
      { name: 'purchases', description: 'Attempts and their outcomes (shoppers)' },
      { name: 'admin: products', description: 'Products (admins)' },
      { name: 'admin: sales', description: 'Sales, their lifecycle and counters (admins)' },
      { name: 'health', description: 'Liveness, readiness, deep health' },
      { name: 'docs', description: 'This document' },
    ],
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'HS256; claims `sub`, `exp`, optional `role`' },
      },
      schemas: Object.fromEntries(Object.entries(components.schemas).map(([id, s]) => [id, clean(s)])),
    },
  };
}

/** The operation a (method, Express or OpenAPI path) names, if documented. */
export function findOperation(method: string, path: string): Operation | undefined {
  const m = method.toLowerCase();
  const p = toOpenApiPath(path);
  return operations.find((op) => op.method === m && toOpenApiPath(op.path) === p);
}

/**
 * The documented operation a concrete request path hits (`/api/sales/0b5e…` ->
 * `/api/sales/:saleId`). Literal segments win over parameters, as in the routers.
 */
export function matchOperation(method: string, urlPath: string): Operation | undefined {
  const segments = urlPath.replace(/\/+$/, '').split('/');
  const m = method.toLowerCase();
  let best: { op: Operation; literals: number } | undefined;
  for (const op of operations) {
    if (op.method !== m) continue;
    const pattern = op.path.split('/');
    if (pattern.length !== segments.length) continue;
    let literals = 0;
    const hit = pattern.every((seg, i) => {
      if (seg.startsWith(':')) return segments[i] !== '';
      literals++;
      return seg === segments[i];
    });
    if (hit && (!best || literals > best.literals)) best = { op, literals };
  }
  return best?.op;
}
