import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * The draw that orders the pre-queue, and nothing else: tools/verify-line.ts recomputes it
 * on its own from the revealed seed (README "Waiting room: checking the draw").
 */

/** A fresh secret seed: 32 random bytes, hex. Committed (its SHA-256 published) when the room is set up. */
export const newSeed = (): string => randomBytes(32).toString('hex');

/** What the room publishes before anyone joins: SHA-256 of the seed's hex text, hex. */
export const seedHash = (seed: string): string => createHash('sha256').update(seed).digest('hex');

/**
 * A shopper's place id in a sale's line: derived from sale and shopper (not chosen by the
 * server at join time), so the operator, who knows the seed, cannot hand a friend a better
 * draw by picking ids; a shopper can compute their own: base64url(SHA-256("<saleId>:<userId>"))[0..22].
 */
export const placeIdOf = (saleId: string, userId: string): string => createHash('sha256').update(`${saleId}:${userId}`).digest('base64url').slice(0, 22);

/** A pre-queue place's draw: the first 52 bits of HMAC-SHA256(seed, placeId), an exact integer score. Lower goes first. */
export const drawOf = (seed: string, placeId: string): number => parseInt(createHmac('sha256', seed).update(placeId).digest('hex').slice(0, 13), 16);

/** Arrivals after the start score above every draw: 2^52 + their arrival number. */
export const ARRIVAL_BASE = 2 ** 52;
