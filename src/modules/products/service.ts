import { Db, pgCode, PgCodes } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { findProduct, insertProduct, listProducts, Product, updateProduct } from './repository';
import { CreateProductInput, UpdateProductInput } from './validators';

const notFound = () => Errors.notFound('PRODUCT_NOT_FOUND', 'Product not found');

export async function createProduct(db: Db, input: CreateProductInput): Promise<Product> {
  try {
    return await insertProduct(db, input);
  } catch (err) {
    if (pgCode(err) === PgCodes.uniqueViolation) throw Errors.conflict('SKU_TAKEN', `A product with sku "${input.sku}" already exists`);
    throw err;
  }
}

export async function getProduct(db: Db, id: string): Promise<Product> {
  const product = await findProduct(db, id);
  if (!product) throw notFound();
  return product;
}

export async function listProductPage(db: Db, page: { limit: number; offset: number }): Promise<Product[]> {
  return listProducts(db, page);
}

/**
 * Renames or reprices a product. Sales carry their own price, so a sale already
 * created keeps the price it was created with.
 */
export async function editProduct(db: Db, id: string, input: UpdateProductInput): Promise<Product> {
  const product = await updateProduct(db, id, input);
  if (!product) throw notFound();
  return product;
}
