import { createDb, Db } from '../src/lib/db';
import { TEST_DATABASE_URL } from './env';

/**
 * The write path inserts a purchase and an order per admitted attempt; every index on
 * those tables is paid for on each insert. An index whose columns lead another index's
 * columns (and is not unique or partial) is pure cost: the longer one serves its lookups.
 */
describe('When the database is migrated', () => {
  let db: Db;
  beforeAll(() => {
    db = createDb(TEST_DATABASE_URL, 1);
  });
  afterAll(async () => db?.destroy());

  it('then no plain index on the written tables repeats the leading columns of another index', async () => {
    const { rows } = await db.raw<{ rows: { table: string; index: string; cols: string; unique: boolean; partial: boolean }[] }>(`
      SELECT t.relname AS table, i.relname AS index, x.indkey::text AS cols, x.indisunique AS unique, x.indpred IS NOT NULL AS partial
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
       WHERE t.relname IN ('purchases', 'orders', 'sale_inventory') AND t.relnamespace = 'public'::regnamespace`);
    expect(rows.length).toBeGreaterThan(3); // the query sees the schema at all
    const redundant = rows.flatMap((a) =>
      rows
        .filter((b) => b !== a && b.table === a.table && !a.unique && !a.partial && `${b.cols} `.startsWith(`${a.cols} `) && b.cols !== a.cols)
        .map((b) => `${a.index} (covered by ${b.index})`),
    );
    expect(redundant).toEqual([]);
  });
});
