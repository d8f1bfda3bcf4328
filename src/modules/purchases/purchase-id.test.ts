import { randomUUID } from 'node:crypto';
import { uuidSchema } from '../../http/validate';
import { newPurchaseId, salePrefixOf } from './purchase-id';

describe('Purchase ids that carry their sale', () => {
  it('When an id is made for a sale, then it is a valid UUIDv8 whose first 48 bits are the sale id’s, and the prefix reads back', () => {
    const saleId = randomUUID();
    const id = newPurchaseId(saleId);
    expect(uuidSchema.safeParse(id).success).toBe(true);
    expect(id[14]).toBe('8');
    expect('89ab').toContain(id[19]);
    expect(salePrefixOf(id)).toBe(saleId.slice(0, 13));
  });

  it('When an id carries no sale (a v4 from before), then no prefix is read from it', () => {
    expect(salePrefixOf(randomUUID())).toBeUndefined();
    expect(salePrefixOf('not-an-id')).toBeUndefined();
  });

  it('When 100,000 ids are made for one sale, then none repeats (74 random bits each)', () => {
    const saleId = randomUUID();
    const ids = new Set(Array.from({ length: 100_000 }, () => newPurchaseId(saleId)));
    expect(ids.size).toBe(100_000);
  });
});
