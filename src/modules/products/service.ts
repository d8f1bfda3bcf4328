import { Db, pgCode, PgCodes } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { insertProduct, Product } from './repository';
import { CreateProductInput } from './validators';

export async function createProduct(db: Db, input: CreateProductInput): Promise<Product> {
  try {
    return await insertProduct(db, input);
  } catch (err) {
    if (pgCode(err) === PgCodes.uniqueViolation) throw Errors.conflict('SKU_TAKEN', `A product with sku "${input.sku}" already exists`);
    throw err;
  }
}
