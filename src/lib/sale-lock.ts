import { Knex } from 'knex';
import { Db } from './db';

/**
 * 64-bit advisory-lock key for a sale, from the first 8 bytes of its UUID
 * (not a 32-bit text hash, which collides across thousands of sales).
 */
export function saleLockKey(saleId: string): string {
  const hex = saleId.replace(/-/g, '').slice(0, 16);
  return BigInt.asIntN(64, BigInt(`0x${hex}`)).toString();
}

/**
 * Runs `work` in one transaction holding the sale's advisory lock (released at commit or
 * rollback). Everything that decides a sale's units in PostgreSQL (the worker's group
 * commit, hold expiry, payment, reconciliation, admin edits, orphan records) runs under
 * it, so no two of them interleave.
 * @example const n = await underSaleLock(db, saleId, (trx) => trx('purchases').where({ sale_id: saleId }).count());
 */
export function underSaleLock<T>(db: Db, saleId: string, work: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(?::bigint)', [saleLockKey(saleId)]);
    return work(trx);
  });
}
