/** Tokens: pre-minted, rotated so every request is a fresh shopper. */
import jwt from 'jsonwebtoken';
import { signToken, verificationKey, verifyToken } from '../../src/modules/auth/tokens';
import { TOKEN_TTL_S } from './context';

/** `Bearer <jwt>` headers for shoppers `bench-u0..n-1`, the same claims signToken makes. */
export function mintShopperHeaders(secret: string, count: number): string[] {
  // With a string secret jsonwebtoken first tries to parse it as a public key (~0.35 ms per
  // call here); the prepared KeyObject skips that: 200k tokens in seconds, not a minute.
  const key = verificationKey(secret);
  const headers = new Array<string>(count);
  for (let i = 0; i < count; i++) {
    headers[i] = `Bearer ${jwt.sign({}, key, { algorithm: 'HS256', subject: `bench-u${i}`, expiresIn: TOKEN_TTL_S })}`;
  }
  assertSameShapeAsSignToken(headers[0]!.slice('Bearer '.length), secret);
  return headers;
}

function assertSameShapeAsSignToken(token: string, secret: string): void {
  const principal = verifyToken(token, secret);
  if (principal?.userId !== 'bench-u0' || principal.role !== 'shopper') throw new Error('minted shopper token does not verify');
  const claims = (t: string) => Object.keys((jwt.decode(t) as Record<string, unknown> | null) ?? {}).sort().join(',');
  const reference = signToken({ sub: 'bench-u0' }, secret, TOKEN_TTL_S);
  if (claims(token) !== claims(reference)) throw new Error(`minted claims ${claims(token)} differ from signToken's ${claims(reference)}`);
}

/** Walks the pre-minted headers from the start; wraps (and says so) when a run needs more. */
export class TokenCursor {
  private used = 0;
  constructor(private readonly headers: readonly string[]) {}
  next(): string {
    const header = this.headers[this.used % this.headers.length]!;
    this.used += 1;
    return header;
  }
  get count(): number {
    return this.used;
  }
  get wrapped(): boolean {
    return this.used > this.headers.length;
  }
}
