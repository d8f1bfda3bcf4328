import { z } from 'zod';
import { healthOperations } from '../modules/health/openapi';
import { productsOperations } from '../modules/products/openapi';
import { purchasesOperations } from '../modules/purchases/openapi';
import { queueDashboardOperations } from '../modules/queue-dashboard/openapi';
import { recoveryOperations } from '../modules/recovery/openapi';
import { salesOperations } from '../modules/sales/openapi';
import { webhooksOperations } from '../modules/webhooks/openapi';
import { deadLettersOperations } from '../modules/dead-letters/openapi';
import { lineOperations } from '../modules/waiting-room/openapi';
import { idempotencyKeySchema } from '../modules/purchases/validators';
import { err, Operation, ResponseSpec, retryable } from './openapi-spec';
import { namedResponseSchemas, openApiDocumentSchema } from './response-schemas';

export type { Operation, ResponseSpec } from './openapi-spec';

/**
 * The OpenAPI 3.1 document, built from the operations each module declares beside its
 * router (`src/modules/<module>/openapi.ts`), whose request schemas are the validators
 * themselves, and the response schemas in response-schemas.ts. test/openapi.test.ts fails
 * when a route the app registers is missing here (or the other way round), and
 * test/openapi-conformance.test.ts checks every response the suite saw against it.
 */

/** The document's own routes. */
const docsOperations: Operation[] = [
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
];

/* ---------------- every route, once ---------------- */

export const operations: Operation[] = [
  ...salesOperations,
  ...purchasesOperations,
  ...healthOperations,
  ...docsOperations,
  ...productsOperations,
  ...recoveryOperations,
  ...webhooksOperations,
  ...deadLettersOperations,
  ...lineOperations,
  ...queueDashboardOperations,
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
 * `/api/sales/:saleId`). Literal segments win over parameters, and match whatever their
 * case, as in the routers (Express routes are case-insensitive by default).
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
      return seg.toLowerCase() === segments[i]!.toLowerCase();
    });
    if (hit && (!best || literals > best.literals)) best = { op, literals };
  }
  return best?.op;
}
