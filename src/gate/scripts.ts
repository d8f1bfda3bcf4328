import fs from 'node:fs';
import path from 'node:path';
import { Result } from 'ioredis';
import { RedisClient } from '../lib/redis';
import { LineKeys, SALE_KEY_RETENTION_MS, SaleKeys } from './keys';

/** The engine's Lua scripts, one file each, named `<name>-<numberOfKeys>.lua`. */
export const SCRIPT_FILES = [
  'admit-8',
  'line-join-4',
  'line-read-6',
  'line-advance-6',
  'release-6',
  'claim-2',
  'finalize-6',
  'write-views-2',
  'restock-2',
  'rebuild-7',
  'settle-hold-4',
  'orphan-candidates-1',
  'reject-orphans-6',
] as const;

// Versioned command names: a deploy with changed Lua never calls an old cached body.
const VERSION = 'v4';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    fsAdmitV4(...args: (string | number)[]): Result<[number, string?, string?, number?, number?], Context>;
    fsReleaseV4(...args: (string | number)[]): Result<number, Context>;
    fsClaimV4(...args: string[]): Result<string[], Context>;
    fsFinalizeV4(...args: string[]): Result<number[], Context>;
    fsWriteViewsV4(...args: string[]): Result<number, Context>;
    fsSettleHoldV4(...args: string[]): Result<number, Context>;
    fsRebuildV4(...args: string[]): Result<[number, number, number, number, number, number], Context>;
    fsRestockV4(...args: (string | number)[]): Result<[number, number], Context>;
    fsOrphanCandidatesV4(...args: (string | number)[]): Result<string[], Context>;
    fsRejectOrphansV4(...args: string[]): Result<[string, number, number, string][], Context>;
    fsLineJoinV4(...args: (string | number)[]): Result<[number, number], Context>;
    fsLineReadV4(...args: (string | number)[]): Result<(number | string)[], Context>;
    fsLineAdvanceV4(...args: (string | number)[]): Result<(number | string)[], Context>;
  }
}

const INCLUDE = /^--- @include "([a-z0-9-]+)"$/gm;

/**
 * A script's source with its `--- @include "name"` lines replaced by `lua/includes/name.lua`
 * (as BullMQ does): the record formats live in one file, inlined into each script at load.
 */
export function scriptSource(file: string, dir = path.join(__dirname, 'lua')): string {
  return fs.readFileSync(path.join(dir, `${file}.lua`), 'utf8').replace(INCLUDE, (_line, name: string) =>
    fs.readFileSync(path.join(dir, 'includes', `${name}.lua`), 'utf8'),
  );
}

/** Registers every script once per client (EVALSHA with automatic EVAL fallback). */
export function loadScripts(client: RedisClient): void {
  const dir = path.join(__dirname, 'lua');
  for (const file of SCRIPT_FILES) {
    // `settle-hold-4` -> command fsSettleHoldV1 with 4 keys.
    const cut = file.lastIndexOf('-');
    const keys = file.slice(cut + 1);
    const pascal = file
      .slice(0, cut)
      .split('-')
      .map((w) => w[0]!.toUpperCase() + w.slice(1))
      .join('');
    const command = `fs${pascal}${VERSION.toUpperCase()}`;
    if ((client as unknown as Record<string, unknown>)[command]) continue;
    client.defineCommand(command, {
      numberOfKeys: Number(keys),
      lua: scriptSource(file, dir),
    });
  }
}

export type AdmitReply = [number, string?, string?, number?, number?];

/** The per-shopper attempt limit admit-8 applies on each sale (attempts 0: none). */
export type ShopperRate = { attempts: number; windowMs: number };

/** How many of a shopper's latest purchase ids admit-8 keeps per sale (`p:<userId>`): what their list shows while queued. */
export const RECENT_PURCHASES_KEPT = 20;

/** Typed wrappers so callers never spell key order by hand. */
export const scripts = {
  admit(
    client: RedisClient,
    k: SaleKeys,
    a: { purchaseId: string; userId: string; quantity: number; nowMs: number; idemKey: string; shopperRate?: ShopperRate; passPlace?: string },
  ) {
    return client.fsAdmitV4(
      k.meta, k.remaining, k.users, k.idempotency, k.purchases, k.stats, k.unqueued, k.linePasses,
      a.purchaseId, a.userId, a.quantity, a.nowMs, a.idemKey, SALE_KEY_RETENTION_MS,
      a.shopperRate?.attempts ?? 0, a.shopperRate?.windowMs ?? 60_000, RECENT_PURCHASES_KEPT, a.passPlace ?? '',
    ) as Promise<AdmitReply>;
  },
  release(client: RedisClient, k: SaleKeys, a: { purchaseId: string; idemKey: string; reason: string }) {
    return client.fsReleaseV4(k.remaining, k.users, k.purchases, k.idempotency, k.stats, k.unqueued, a.purchaseId, a.idemKey, a.reason);
  },
  claim(client: RedisClient, k: SaleKeys, purchaseIds: string[]) {
    return client.fsClaimV4(k.purchases, k.unqueued, ...purchaseIds);
  },
  settleHold(client: RedisClient, k: SaleKeys, purchaseId: string, outcome: 'paid' | 'expired' | 'cancelled') {
    return client.fsSettleHoldV4(k.remaining, k.users, k.purchases, k.stats, purchaseId, outcome);
  },
  /** A batch's outcomes, each with the JSON view pollers read (the sale's read model), in one script. */
  finalize(client: RedisClient, k: SaleKeys, outcomes: { purchaseId: string; status: 'confirmed' | 'rejected'; reason?: string; view?: string }[]) {
    const args = outcomes.flatMap((o) => [o.purchaseId, o.status, o.reason ?? '', o.view ?? '']);
    return client.fsFinalizeV4(k.remaining, k.users, k.purchases, k.stats, k.unqueued, k.views, ...args);
  },
  /** Purchase views into the sale's read model (purchaseId -> JSON). */
  writeViews(client: RedisClient, k: SaleKeys, views: [purchaseId: string, json: string][]) {
    return client.fsWriteViewsV4(k.views, k.purchases, ...views.flat());
  },
  restock(
    client: RedisClient,
    k: SaleKeys,
    a: { stockDelta: number; mode: 'checked' | 'force'; expireAtMs: number; meta: Record<string, string | number> },
  ) {
    const fields = Object.entries(a.meta).flat();
    return client.fsRestockV4(k.meta, k.remaining, a.stockDelta, a.mode, a.expireAtMs, ...fields);
  },
  /** Reconciliation (rebuild-7): `payload` is the JSON documented in the script's header. */
  rebuild(client: RedisClient, k: SaleKeys, payload: string) {
    return client.fsRebuildV4(k.meta, k.remaining, k.users, k.idempotency, k.purchases, k.stats, k.unqueued, payload);
  },
  /** Purchases admitted before `cutoffMs` that no queue job is known to hold (at most `limit`). */
  orphanCandidates(client: RedisClient, k: SaleKeys, cutoffMs: number, limit: number) {
    return client.fsOrphanCandidatesV4(k.unqueued, cutoffMs, limit);
  },
  /** Rejects those still queued and still without a known job; returns them as [id, quantity, createdAtMs, userId]. */
  rejectOrphans(client: RedisClient, k: SaleKeys, reason: string, purchaseIds: string[]) {
    return client.fsRejectOrphansV4(k.remaining, k.users, k.purchases, k.idempotency, k.stats, k.unqueued, reason, ...purchaseIds);
  },
  /** A shopper's place in the waiting room (line-join-4): `record` is "userId|joinedAtMs". */
  lineJoin(client: RedisClient, k: SaleKeys, l: LineKeys, a: { placeId: string; record: string; draw: number; proved: boolean }) {
    // now "": the script reads Redis's clock, the one every node's line moves by.
    return client.fsLineJoinV4(l.room, l.order, l.places, k.meta, a.placeId, a.record, '', a.draw, SALE_KEY_RETENTION_MS, a.proved ? '1' : '0');
  },
  /** One place and the room around it (line-read-6); the reply's fields are listed in the script. */
  lineRead(client: RedisClient, k: SaleKeys, l: LineKeys, placeId: string) {
    return client.fsLineReadV4(l.room, l.order, l.passes, k.remaining, k.meta, k.stats, placeId);
  },
  /** Sweeps expired passes and gives the next places their turn (line-advance-6). */
  lineAdvance(client: RedisClient, k: SaleKeys, l: LineKeys, a: { nowMs?: number; maxBatch: number }) {
    // Without nowMs, Redis's own clock (the ticker); tests pass a clock of their own.
    return client.fsLineAdvanceV4(l.room, l.order, l.passes, k.remaining, k.meta, l.places, a.nowMs ?? '', a.maxBatch, SALE_KEY_RETENTION_MS);
  },
};
