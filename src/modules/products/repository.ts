import { randomUUID } from 'node:crypto';
import { Db } from '../../lib/db';
import { CreateProductInput } from './validators';

export type Product = {
  id: string;
  sku: string;
  name: string;
  description: string | null;
  priceCents: number;
  currency: string;
  createdAt: string;
};

type Row = { id: string; sku: string; name: string; description: string | null; price_cents: string; currency: string; created_at: Date };

const toProduct = (r: Row): Product => ({
  id: r.id,
  sku: r.sku,
  name: r.name,
  description: r.description,
  priceCents: Number(r.price_cents),
  currency: r.currency,
  createdAt: r.created_at.toISOString(),
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
