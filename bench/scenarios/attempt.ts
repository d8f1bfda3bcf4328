/** The attempt endpoint, as admitting, sold-out and naive load it and smoke-test it. */
import { call, Reply } from '../../tools/client';
import { signToken } from '../../src/modules/auth/tokens';
import { ATTEMPT_BODY, attemptsPath, attemptsUrl, Bench, TOKEN_TTL_S } from '../harness/context';
import type { Target } from '../harness/load';
import type { Server } from '../harness/processes';
import { TokenCursor } from '../harness/tokens';

/** POST attempts on `saleId` at `server`, each request the next pre-minted shopper. */
export function attemptTarget(b: Bench, server: Server, saleId: string): { target: Target; server: Server; saleId: string } {
  return { target: { url: attemptsUrl(server, saleId), method: 'POST', body: ATTEMPT_BODY, tokens: new TokenCursor(b.shoppers) }, server, saleId };
}

/** One attempt of one unit by shopper `sub` (a token of its own, not one of the pre-minted). */
export function attemptOnce(b: Bench, server: Server, saleId: string, sub: string): Promise<Reply> {
  return call(server.url, 'POST', attemptsPath(saleId), { token: signToken({ sub }, b.secret, TOKEN_TTL_S), body: { quantity: 1 }, timeoutMs: 10_000 });
}
