import { z } from 'zod';
import { err, Operation, retryable, saleIdParam, saleNotFound } from '../../http/openapi-spec';
import { waitingRoomPatchSchema, waitingRoomSchema } from '../sales/validators';
import type { Fairness, PublishedPlace } from './published';
import type { RoomAdminView } from './room';
import type { LineState } from './state';
import { placesQuerySchema } from './validators';

const count = z.number().int().min(0);
const timestamp = z.iso.datetime();

export const lineStateSchema = z.strictObject({
  saleId: z.uuid(),
  placeId: z.string().describe('base64url(SHA-256("<saleId>:<userId>")), first 22 characters'),
  state: z.enum(['prequeue', 'waiting', 'your_turn', 'passed', 'sold_out', 'closed']),
  position: z.number().int().min(1).nullable().describe('1: next; null before the start (the draw is final then) and once your turn came'),
  aheadOfYou: count.nullable(),
  pollAfterMs: count.describe('poll again no sooner: earlier polls get this answer again'),
  etaSeconds: count.nullable(),
  etaRange: z.strictObject({ p25: count, p75: count }).nullable(),
  remaining: count,
  likelyToGetOne: z.boolean().nullable().describe('units left against what the shoppers ahead could take'),
  pass: z.string().optional().describe('your_turn only: send it as header Sale-Pass with the purchase'),
  passExpiresAt: timestamp.optional(),
});

const settingsSchema = z.strictObject({
  enabled: z.boolean(),
  opensAt: timestamp,
  admitPerSecond: z.number(),
  passSeconds: count,
  margin: count,
  paused: z.boolean(),
  proofOfWork: z.union([z.literal(false), z.number().int()]),
});
export const roomAdminSchema = z.strictObject({
  saleId: z.uuid(),
  settings: settingsSchema,
  seedHash: z.string().regex(/^[0-9a-f]{64}$/),
  live: z.strictObject({ joined: count, served: count, waiting: count, passesOut: count, expired: count }),
});
export const fairnessSchema = z.strictObject({
  saleId: z.uuid(),
  seedHash: z.string().regex(/^[0-9a-f]{64}$/),
  seed: z.string().nullable().describe('revealed once the sale has started'),
  revealed: z.boolean(),
  startsAt: timestamp,
  algorithm: z.string(),
});
const placeSchema = z.strictObject({ placeId: z.string(), position: z.number().int().min(1), drawn: z.boolean(), arrival: count.nullable(), joinedAt: timestamp });
export const placesSchema = z.strictObject({ items: z.array(placeSchema), total: count, limit: z.number().int().min(1), offset: count });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time: the schemas and the types the code answers agree. */
export type LineSchemasMatch = [
  Same<z.infer<typeof lineStateSchema>, LineState>,
  Same<z.infer<typeof roomAdminSchema>, RoomAdminView>,
  Same<z.infer<typeof fairnessSchema>, Fairness>,
  Same<z.infer<typeof placeSchema>, PublishedPlace>,
] extends [true, true, true, true] ? true : never;
export const lineSchemasMatch: LineSchemasMatch = true;

const noRoom = err('The sale has no waiting room', 'LINE_NOT_ENABLED');
const perAddress = retryable('Too many joins from this address (LINE_JOIN_IP_PER_MIN)', 'RATE_LIMITED');

/** altcha-lib's challenge (v2): solve it with altcha-lib's solveChallenge (or the widget) and send {challenge, solution}. */
export const challengeReplySchema = z.strictObject({
  required: z.boolean(),
  challenge: z
    .strictObject({ parameters: z.record(z.string(), z.unknown()), signature: z.string().optional() })
    .nullable()
    .describe('null when the room asks no proof of work'),
});

/** The waiting room (README "Waiting room"). */
export const lineOperations: Operation[] = [
  {
    method: 'post',
    path: '/api/sales/:saleId/line',
    operationId: 'joinLine',
    summary: 'Join the sale\'s line (once; again: the same place)',
    description:
      'Before the start places are ordered by the published draw; after it, by arrival. No body. ' +
      'When the room asks a proof of work: header `Line-Proof` = base64url(JSON {challenge, solution}) of a solved GET .../line/challenge.',
    tags: ['waiting room'],
    auth: 'shopper',
    params: saleIdParam,
    responses: {
      201: { description: 'Joined: your place', schema: lineStateSchema },
      200: { description: 'Already in line: the same place', schema: lineStateSchema },
      403: err('The room asks a proof of work and none (or a wrong one) came', 'PROOF_REQUIRED', 'PROOF_INVALID'),
      404: saleNotFound,
      429: perAddress,
      409: err('Not joinable: no room, not open yet, or the sale is over', 'LINE_NOT_ENABLED', 'LINE_NOT_OPEN', 'LINE_CLOSED'),
      503: retryable('The sale\'s gate is being rebuilt (Redis lost it)', 'SALE_UNAVAILABLE'),
    },
  },
  {
    method: 'get',
    path: '/api/sales/:saleId/line/challenge',
    operationId: 'lineChallenge',
    summary: 'A proof-of-work challenge for joining (bound to you and this sale, 10 minutes)',
    tags: ['waiting room'],
    auth: 'shopper',
    params: saleIdParam,
    responses: { 200: { description: 'The challenge, or none needed', schema: challengeReplySchema }, 404: saleNotFound, 409: noRoom, 429: perAddress },
  },
  {
    method: 'get',
    path: '/api/sales/:saleId/line',
    operationId: 'readLine',
    summary: 'Your place in the line',
    description: 'Poll no sooner than `pollAfterMs`: earlier polls get the last answer again from memory. In `your_turn` the answer carries the pass.',
    tags: ['waiting room'],
    auth: 'shopper',
    params: saleIdParam,
    responses: {
      200: { description: 'Your place', schema: lineStateSchema },
      404: err('No such sale, or you have not joined its line', 'SALE_NOT_FOUND', 'LINE_PLACE_NOT_FOUND'),
      409: noRoom,
    },
  },
  {
    method: 'get',
    path: '/api/sales/:saleId/line/fairness',
    operationId: 'lineFairness',
    summary: 'The committed seed hash, and the seed once the sale started',
    tags: ['waiting room'],
    auth: 'none',
    params: saleIdParam,
    responses: { 200: { description: 'The commitment', schema: fairnessSchema }, 404: err('No such sale, or no room', 'SALE_NOT_FOUND', 'LINE_NOT_ENABLED') },
  },
  {
    method: 'get',
    path: '/api/sales/:saleId/line/places',
    operationId: 'linePlaces',
    summary: 'The order of service (published once the sale started)',
    description: '`npm run verify-line -- --base URL --sale ID` recomputes it from the revealed seed.',
    tags: ['waiting room'],
    auth: 'none',
    params: saleIdParam,
    query: placesQuerySchema,
    responses: { 200: { description: 'A page of places in order', schema: placesSchema }, 404: saleNotFound, 409: err('Not started yet', 'LINE_NOT_STARTED') },
  },
  {
    method: 'put',
    path: '/api/admin/sales/:saleId/waiting-room',
    operationId: 'setWaitingRoom',
    summary: 'Set up (or replace) a sale\'s waiting room',
    description: 'The seed is drawn the first time and never changes; its hash is public at once.',
    tags: ['admin: waiting room'],
    auth: 'admin',
    params: saleIdParam,
    body: waitingRoomSchema,
    responses: { 200: { description: 'The room', schema: roomAdminSchema }, 404: saleNotFound },
  },
  {
    method: 'patch',
    path: '/api/admin/sales/:saleId/waiting-room',
    operationId: 'changeWaitingRoom',
    summary: 'Change a room live: pause, resume, rate, pass length, margin',
    tags: ['admin: waiting room'],
    auth: 'admin',
    params: saleIdParam,
    body: waitingRoomPatchSchema,
    responses: { 200: { description: 'The room', schema: roomAdminSchema }, 404: saleNotFound, 409: noRoom },
  },
  {
    method: 'get',
    path: '/api/admin/sales/:saleId/waiting-room',
    operationId: 'getWaitingRoom',
    summary: 'A room\'s settings and live counters',
    tags: ['admin: waiting room'],
    auth: 'admin',
    params: saleIdParam,
    responses: { 200: { description: 'The room', schema: roomAdminSchema }, 404: err('No such sale, or no room', 'SALE_NOT_FOUND', 'LINE_NOT_ENABLED') },
  },
];
