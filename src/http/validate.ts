import { z } from 'zod';
import { Errors } from '../lib/errors';

/** Parses input against a strict schema or throws VALIDATION_FAILED listing every problem. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what = 'body'): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((i) => ({ path: i.path.join('.') || what, message: i.message }));
    const first = issues[0]!;
    throw Errors.validation(`Invalid ${what}: ${first.path === what ? '' : `${first.path}: `}${first.message}`, issues);
  }
  return result.data;
}

export const uuidSchema = z.uuid();

/** A malformed id can never name an existing resource: answer 404 with the resource's code. */
export function parseId(value: unknown, notFoundCode: string, what: string): string {
  const result = uuidSchema.safeParse(value);
  if (!result.success) throw Errors.notFound(notFoundCode, `${what} not found`);
  return result.data.toLowerCase();
}

export const paginationSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
