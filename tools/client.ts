/**
 * The one HTTP client of everything that drives the engine from outside: the tests'
 * helpers (test/helpers.ts), the load test (tools/loadtest/) and the bench (bench/).
 * Real HTTP through fetch; the admin calls that set up a product and a sale; one way to
 * say "this reply must have that status".
 */
import { randomUUID } from 'node:crypto';

/** An answer: its status, its body (parsed JSON, else the text, undefined when empty), its headers. */
export type Reply<Body = unknown> = { status: number; body: Body; headers: Headers };

export type CallOptions = {
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Sent as JSON (with `content-type: application/json` unless `headers` says otherwise). */
  body?: unknown;
  /** Sent as is, instead of `body`. */
  rawBody?: string;
  headers?: Record<string, string>;
  /** Abort the request after this long (default: no limit). */
  timeoutMs?: number;
};

/** A request that got no answer, or an answer other than the one expected. */
export class ClientError extends Error {
  override name = 'ClientError';
}

/** `method` `baseUrl + urlPath`; rejects with a ClientError (naming the request) only when no answer came. */
export async function call<Body = unknown>(baseUrl: string, method: string, urlPath: string, opts: CallOptions = {}): Promise<Reply<Body>> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.rawBody !== undefined) body = opts.rawBody;
  else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] ??= 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(baseUrl + urlPath, {
      method,
      headers,
      body,
      ...(opts.timeoutMs !== undefined ? { signal: AbortSignal.timeout(opts.timeoutMs) } : {}),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
    throw new ClientError(`${method} ${baseUrl}${urlPath} failed: ${cause}`, { cause: err });
  }
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: keep the text */
  }
  return { status: res.status, body: parsed as Body, headers: res.headers };
}

/** Returns `reply` if it has `status`; else throws a ClientError saying `what` was answered instead. */
export function expectStatus<R extends { status: number; body: unknown }>(reply: R, status: number, what: string): R {
  if (reply.status === status) return reply;
  const hint = reply.status === 401 ? ' (is JWT_SECRET the same as the server’s?)' : '';
  throw new ClientError(`${what}: expected ${status}, got ${reply.status}${hint}: ${JSON.stringify(reply.body)}`);
}

/** The `id` of a created resource; throws a ClientError when the body has none. */
export function idOf(reply: { body: unknown }, what: string): string {
  const id = typeof reply.body === 'object' && reply.body !== null ? (reply.body as { id?: unknown }).id : undefined;
  if (typeof id !== 'string') throw new ClientError(`${what} answered no id: ${JSON.stringify(reply.body)}`);
  return id;
}

export type NewProduct = { sku: string; name: string; priceCents: number };

/** POST /api/admin/products as `adminToken`; resolves with the product's id. Defaults: a fresh SKU, 10.00. */
export async function createProduct(baseUrl: string, adminToken: string, product: Partial<NewProduct> = {}, timeoutMs?: number): Promise<string> {
  const body: NewProduct = { sku: product.sku ?? `SKU-${randomUUID()}`, name: product.name ?? 'Test product', priceCents: product.priceCents ?? 1000 };
  const reply = await call(baseUrl, 'POST', '/api/admin/products', { token: adminToken, body, timeoutMs });
  return idOf(expectStatus(reply, 201, 'POST /api/admin/products'), 'POST /api/admin/products');
}

export type NewSale = {
  name: string;
  stock: number;
  perUserLimit: number;
  priceCents: number;
  startsAt: string;
  endsAt: string;
  holdSeconds: number;
  /** false: left out of the public GET /api/sales (reachable by id); the engine's default is true. */
  listed: boolean;
};

/**
 * POST /api/admin/sales as `adminToken` for `productId`; resolves with the sale's id.
 * Defaults: 'Test sale', 10 units, 1 per shopper, 5.00, started a minute ago, ends in an hour,
 * the engine's hold time, listed.
 */
export async function createSaleOf(
  baseUrl: string,
  adminToken: string,
  productId: string,
  sale: Partial<NewSale> = {},
  timeoutMs?: number,
): Promise<string> {
  const now = Date.now();
  const body = {
    productId,
    name: sale.name ?? 'Test sale',
    startsAt: sale.startsAt ?? new Date(now - 60_000).toISOString(),
    endsAt: sale.endsAt ?? new Date(now + 3600_000).toISOString(),
    stock: sale.stock ?? 10,
    perUserLimit: sale.perUserLimit ?? 1,
    priceCents: sale.priceCents ?? 500,
    ...(sale.holdSeconds !== undefined ? { holdSeconds: sale.holdSeconds } : {}),
    ...(sale.listed !== undefined ? { listed: sale.listed } : {}),
  };
  const reply = await call(baseUrl, 'POST', '/api/admin/sales', { token: adminToken, body, timeoutMs });
  return idOf(expectStatus(reply, 201, 'POST /api/admin/sales'), 'POST /api/admin/sales');
}

/** A product and an active sale of it, through the admin API (defaults as in createProduct and createSaleOf). */
export async function createSale(
  baseUrl: string,
  adminToken: string,
  sale: Partial<NewSale> & { product?: Partial<NewProduct> } = {},
  timeoutMs?: number,
): Promise<{ saleId: string; productId: string }> {
  const { product, ...rest } = sale;
  const productId = await createProduct(baseUrl, adminToken, product, timeoutMs);
  const saleId = await createSaleOf(baseUrl, adminToken, productId, rest, timeoutMs);
  return { saleId, productId };
}
