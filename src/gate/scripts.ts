import fs from 'node:fs';
import path from 'node:path';
import { Result } from 'ioredis';
import { RedisClient } from '../lib/redis';
import { SALE_KEY_RETENTION_MS, SaleKeys } from './keys';

/** The engine's Lua scripts, one file each, named `<name>-<numberOfKeys>.lua`. */
export const SCRIPT_FILES = [
  'admit-7',
  'index-purchase-1',
  'release-6',
  'claim-2',
  'finalize-5',
  'restock-2',
  'rebuild-7',
  'settle-hold-4',
  'orphan-candidates-1',
  'reject-orphans-6',
] as const;

// Versioned command names: a deploy with changed Lua never calls an old cached body.
const VERSION = 'v2';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    fsAdmitV2(...args: (string | number)[]): Result<[number, string?, string?, number?, number?], Context>;
    fsIndexPurchaseV2(...args: (string | number)[]): Result<number, Context>;
    fsReleaseV2(...args: (string | number)[]): Result<number, Context>;
    fsClaimV2(...args: string[]): Result<string[], Context>;
    fsFinalizeV2(...args: string[]): Result<number[], Context>;
    fsSettleHoldV2(...args: string[]): Result<number, Context>;
    fsRebuildV2(...args: string[]): Result<[number, number, number, number, number, number], Context>;
    fsRestockV2(...args: (string | number)[]): Result<[number, number], Context>;
    fsOrphanCandidatesV2(...args: (string | number)[]): Result<string[], Context>;
    fsRejectOrphansV2(...args: string[]): Result<[string, number, number, string][], Context>;
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

/** Typed wrappers so callers never spell key order by hand. */
export const scripts = {
  admit(client: RedisClient, k: SaleKeys, a: { purchaseId: string; userId: string; quantity: number; nowMs: number; idemKey: string }) {
    return client.fsAdmitV2(
      k.meta, k.remaining, k.users, k.idempotency, k.purchases, k.stats, k.unqueued,
      a.purchaseId, a.userId, a.quantity, a.nowMs, a.idemKey, SALE_KEY_RETENTION_MS,
    ) as Promise<AdmitReply>;
  },
  indexPurchase(client: RedisClient, userIndexKey: string, a: { scoreMs: number; member: string; ttlSeconds: number }) {
    return client.fsIndexPurchaseV2(userIndexKey, a.scoreMs, a.member, a.ttlSeconds);
  },
  release(client: RedisClient, k: SaleKeys, a: { purchaseId: string; idemKey: string; reason: string }) {
    return client.fsReleaseV2(k.remaining, k.users, k.purchases, k.idempotency, k.stats, k.unqueued, a.purchaseId, a.idemKey, a.reason);
  },
  claim(client: RedisClient, k: SaleKeys, purchaseIds: string[]) {
    return client.fsClaimV2(k.purchases, k.unqueued, ...purchaseIds);
  },
  settleHold(client: RedisClient, k: SaleKeys, purchaseId: string, outcome: 'paid' | 'expired' | 'cancelled') {
    return client.fsSettleHoldV2(k.remaining, k.users, k.purchases, k.stats, purchaseId, outcome);
  },
  finalize(client: RedisClient, k: SaleKeys, outcomes: { purchaseId: string; status: 'confirmed' | 'rejected'; reason?: string }[]) {
    const args = outcomes.flatMap((o) => [o.purchaseId, o.status, o.reason ?? '']);
    return client.fsFinalizeV2(k.remaining, k.users, k.purchases, k.stats, k.unqueued, ...args);
  },
  restock(
    client: RedisClient,
    k: SaleKeys,
    a: { stockDelta: number; mode: 'checked' | 'force'; expireAtMs: number; meta: Record<string, string | number> },
  ) {
    const fields = Object.entries(a.meta).flat();
    return client.fsRestockV2(k.meta, k.remaining, a.stockDelta, a.mode, a.expireAtMs, ...fields);
  },
  /** Reconciliation (rebuild-7): `payload` is the JSON documented in the script's header. */
  rebuild(client: RedisClient, k: SaleKeys, payload: string) {
    return client.fsRebuildV2(k.meta, k.remaining, k.users, k.idempotency, k.purchases, k.stats, k.unqueued, payload);
  },
  /** Purchases admitted before `cutoffMs` that no queue job is known to hold (at most `limit`). */
  orphanCandidates(client: RedisClient, k: SaleKeys, cutoffMs: number, limit: number) {
    return client.fsOrphanCandidatesV2(k.unqueued, cutoffMs, limit);
  },
  /** Rejects those still queued and still without a known job; returns them as [id, quantity, createdAtMs, userId]. */
  rejectOrphans(client: RedisClient, k: SaleKeys, reason: string, purchaseIds: string[]) {
    return client.fsRejectOrphansV2(k.remaining, k.users, k.purchases, k.idempotency, k.stats, k.unqueued, reason, ...purchaseIds);
  },
};
