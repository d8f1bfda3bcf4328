/** One response as test/support/record-responses.cjs writes it (a JSON line). */
export type RecordedResponse = {
  method: string;
  /** The request path, without the query. */
  path: string;
  /** The matched route with its mount path (`/api/sales/:saleId`), or null when none answered. */
  routePath: string | null;
  status: number;
  /** The Retry-After header, if any (documented on 429 and 503). */
  retryAfter: string | null;
  body: unknown;
};
