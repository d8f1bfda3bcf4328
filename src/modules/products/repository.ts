import { randomUUID } from 'node:crypto';
import { Db } from '../../lib/db';
import { CreateProductInput, UpdateProductInput } from './validators';

export type Product = {
  id: string;
  sku: string;
  name: string;
  description: string | null;
  priceCents: number;
  currency: string;
  createdAt: string;
  updatedAt: string;
};

type Row = {
  id: string;
  sku: string;
  name: string;
  description: string | null;
  price_cents: string;
  currency: string;
  created_at: Date;
  updated_at: Date;
};

const toProduct = (r: Row): Product => ({
  id: r.id,
  sku: r.sku,
  name: r.name,
  description: r.description,
  priceCents: Number(r.price_cents),
  currency: r.currency,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export async function insertProduct(db: Db, input: CreateProductInput): Promise<Product> {
  const [row] = await db('products')
    .insert({
      id: randomUUID(),
      sku: input.sku,
      name: input.name,
      description: input.description ?? null,
      price_cents: input.priceCents,
      currency: input.currency ?? 'USD',
    })
    .returning('*');
  return toProduct(row as Row);
}

export async function findProduct(db: Db, id: string): Promise<Product | undefined> {
  const row = await db<Row>('products').where({ id }).first();
  return row ? toProduct(row) : undefined;
}

export async function findProductBySku(db: Db, sku: string): Promise<Product | undefined> {
  const row = await db<Row>('products').where({ sku }).first();
  return row ? toProduct(row) : undefined;
}

/** Newest first; the id breaks ties so pages never overlap. */
export async function listProducts(db: Db, page: { limit: number; offset: number }): Promise<Product[]> {
  const rows = await db<Row>('products')
    .orderBy([{ column: 'created_at', order: 'desc' }, { column: 'id' }])
    .limit(page.limit)
    .offset(page.offset);
  return rows.map(toProduct);
}

/** Applies the given fields; undefined when no such product. */
export async function updateProduct(db: Db, id: string, input: UpdateProductInput): Promise<Product | undefined> {
  const changes: Partial<Record<keyof Row, unknown>> = { updated_at: db.fn.now() };
  if (input.name !== undefined) changes.name = input.name;
  if (input.description !== undefined) changes.description = input.description;
  if (input.priceCents !== undefined) changes.price_cents = input.priceCents;
  if (input.currency !== undefined) changes.currency = input.currency;
  const [row] = await db('products').where({ id }).update(changes).returning('*');
  return row ? toProduct(row as Row) : undefined;
}
