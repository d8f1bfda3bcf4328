import { Db } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { RedisClient } from '../../lib/redis';
import { Keys } from '../../gate/keys';
import { findSale } from '../sales/repository';
import { ARRIVAL_BASE, seedHash } from './fairness';
import { findRoom } from './repository';

/**
 * What the room publishes so anyone can check its order (tools/verify-line.ts): the seed's
 * hash from the moment the room is set up, the seed itself once the sale has started (when
 * no one can join the draw any more), and the order of service.
 */
export type Fairness = { saleId: string; seedHash: string; seed: string | null; revealed: boolean; startsAt: string; algorithm: string };

export type PublishedPlace = { placeId: string; position: number; drawn: boolean; arrival: number | null; joinedAt: string };

type Deps = { db: Db; redis: RedisClient; keys: Keys };

export async function fairnessOf(deps: Deps, saleId: string, nowMs = Date.now()): Promise<Fairness> {
  const [room, sale] = await Promise.all([findRoom(deps.db, saleId), findSale(deps.db, saleId)]);
  if (!room || !sale) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
  if (!room.seed) throw Errors.notFound('LINE_NOT_ENABLED', 'This sale has no waiting room');
  const revealed = nowMs >= sale.startsAt.getTime();
  return {
    saleId,
    seedHash: seedHash(room.seed),
    seed: revealed ? room.seed : null,
    revealed,
    startsAt: sale.startsAt.toISOString(),
    algorithm:
      'seedHash = hex(SHA-256(seed)); pre-queue places (drawn) in ascending first 13 hex digits of HMAC-SHA256(key = seed, message = placeId), ties by placeId; then arrivals after the start by arrival number',
  };
}

/** The order of service, a page at a time: published once the sale has started (the draw is final then). */
export async function placesOf(deps: Deps, saleId: string, page: { limit: number; offset: number }, nowMs = Date.now()): Promise<{ items: PublishedPlace[]; total: number }> {
  const sale = await findSale(deps.db, saleId);
  if (!sale) throw Errors.notFound('SALE_NOT_FOUND', 'Sale not found');
  if (nowMs < sale.startsAt.getTime()) throw Errors.conflict('LINE_NOT_STARTED', 'The order of the line is published once the sale starts');
  const l = deps.keys.line(saleId);
  const [flat, total] = await Promise.all([deps.redis.zrange(l.order, String(page.offset), String(page.offset + page.limit - 1), 'WITHSCORES'), deps.redis.zcard(l.order)]);
  const ids: string[] = [];
  const scores: number[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    ids.push(flat[i]!);
    scores.push(Number(flat[i + 1]));
  }
  const records = ids.length > 0 ? await deps.redis.hmget(l.places, ...ids) : [];
  const items = ids.map((placeId, i) => {
    const drawn = scores[i]! < ARRIVAL_BASE;
    return {
      placeId,
      position: page.offset + i + 1,
      drawn,
      arrival: drawn ? null : scores[i]! - ARRIVAL_BASE,
      joinedAt: new Date(Number((records[i] ?? '').split('|')[1] ?? 0)).toISOString(),
    };
  });
  return { items, total };
}
