import { createHmac } from 'node:crypto';
import { createChallenge, randomInt, verifySolution, type Challenge, type Solution } from 'altcha-lib';
import { deriveKey } from 'altcha-lib/algorithms/sha';
import { AppError } from '../../lib/errors';

/**
 * Proof of work on joining (altcha-lib, self-hosted, no widget needed): the challenge is
 * bound to shopper and sale and signed, so a solution is worth one join of one shopper;
 * joining again returns the same place anyway. Deterministic mode: the server picks the
 * answer's counter at random below the room's difficulty, so solving costs on average
 * difficulty / 2 SHA-256 runs and checking costs one HMAC.
 */
export type JoinChallenge = Challenge;

const CHALLENGE_TTL_MS = 10 * 60_000;
const keys = (secret: string) => ({
  hmacSignatureSecret: createHmac('sha256', secret).update('line proof signature').digest('hex'),
  hmacKeySignatureSecret: createHmac('sha256', secret).update('line proof key').digest('hex'),
});

export function newJoinChallenge(secret: string, who: { saleId: string; userId: string; difficulty: number }): Promise<JoinChallenge> {
  return createChallenge({
    algorithm: 'SHA-256',
    cost: 1,
    counter: randomInt(0, who.difficulty),
    deriveKey,
    data: { s: who.saleId, u: who.userId },
    expiresAt: new Date(Date.now() + CHALLENGE_TTL_MS),
    ...keys(secret),
  });
}

const invalid = () => new AppError('forbidden', 'PROOF_INVALID', 'This Line-Proof does not solve a challenge issued to you for this sale (or it expired): fetch a new one');

/** Checks a `Line-Proof` header: base64url(JSON {challenge, solution}). Throws PROOF_INVALID. */
export async function checkJoinProof(secret: string, header: string, who: { saleId: string; userId: string }): Promise<void> {
  let proof: { challenge?: Challenge; solution?: Solution };
  try {
    proof = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as typeof proof;
  } catch {
    throw invalid();
  }
  const data = proof.challenge?.parameters?.data;
  if (!proof.challenge || !proof.solution || data?.s !== who.saleId || data?.u !== who.userId) throw invalid();
  const result = await verifySolution({ challenge: proof.challenge, solution: proof.solution, deriveKey, ...keys(secret) }).catch(() => ({ verified: false }));
  if (!result.verified) throw invalid();
}
