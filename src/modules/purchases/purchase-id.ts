import { randomUUID } from 'node:crypto';
import { Db } from '../../lib/db';

/**
 * Purchase ids carry their sale: a UUIDv8 (RFC 9562) whose first 48 bits are the sale
 * id's and whose other 74 free bits are random (a v4 UUID's, so as unguessable per sale as
 * ids need to be: the owner-only check guards them anyway). Whoever holds a purchase id can
 * find the sale whose gate keeps it while it is queued, so admission writes no index of
 * "which sale is this purchase in" (it cost three Redis commands and a round trip per
 * purchase). Ids made before this (v4) have no sale in them; they are decided long since
 * and answered from the read model or PostgreSQL.
 */
export function newPurchaseId(saleId: string): string {
  // "xxxxxxxx-xxxx-" of the sale, version 8, then the v4's random tail (its variant kept).
  return `${saleId.slice(0, 14)}8${randomUUID().slice(15)}`;
}

const V8 = /^([0-9a-f]{8}-[0-9a-f]{4})-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The first 48 bits of the purchase's sale id ("xxxxxxxx-xxxx"), when the id carries them. */
export function salePrefixOf(purchaseId: string): string | undefined {
  return V8.exec(purchaseId)?.[1];
}

/** Sales remembered per process before the map starts again (sales are few; this only bounds it). */
const MAX_REMEMBERED = 10_000;

/**
 * Finds the sale of a purchase from its id: a sale id is immutable, so each prefix is looked
 * up in PostgreSQL once per process (an index range scan on the primary key) and remembered.
 */
export class PurchaseSales {
  private readonly known = new Map<string, string[]>();

  constructor(private readonly db: Db) {}

  /** The sale (or, one chance in ~10^8, the sales sharing its 48 bits) a purchase id names. */
  async salesOf(purchaseId: string): Promise<string[]> {
    const prefix = salePrefixOf(purchaseId);
    if (!prefix) return [];
    const hit = this.known.get(prefix);
    if (hit) return hit;
    const ids = (
      await this.db('sales')
        .select<{ id: string }[]>('id')
        .whereBetween('id', [`${prefix}-0000-0000-000000000000`, `${prefix}-ffff-ffff-ffffffffffff`])
    ).map((r) => r.id);
    // Not remembered when none: the sale may be created after this look-up (ids are minted first).
    if (ids.length === 0) return ids;
    if (this.known.size >= MAX_REMEMBERED) this.known.clear();
    this.known.set(prefix, ids);
    return ids;
  }
}
