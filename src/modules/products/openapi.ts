import { err, Operation, productIdParam, productNotFound } from '../../http/openapi-spec';
import { productListSchema, productSchema } from '../../http/response-schemas';
import { createProductSchema, listProductsQuerySchema, updateProductSchema } from './validators';

/** Admin: products: every route of this module, described once beside its router. */
export const productsOperations: Operation[] = [

  {
    method: 'post',
    path: '/api/admin/products',
    operationId: 'createProduct',
    summary: 'Create a product',
    tags: ['admin: products'],
    auth: 'admin',
    body: createProductSchema,
    responses: { 201: { description: 'Created', schema: productSchema }, 409: err('The sku is taken', 'SKU_TAKEN') },
  },
  {
    method: 'get',
    path: '/api/admin/products',
    operationId: 'listProducts',
    summary: 'List products, newest first',
    tags: ['admin: products'],
    auth: 'admin',
    query: listProductsQuerySchema,
    responses: { 200: { description: 'A page of products', schema: productListSchema } },
  },
  {
    method: 'get',
    path: '/api/admin/products/:productId',
    operationId: 'getProduct',
    summary: 'One product',
    tags: ['admin: products'],
    auth: 'admin',
    params: productIdParam,
    responses: { 200: { description: 'The product', schema: productSchema }, 404: productNotFound },
  },
  {
    method: 'patch',
    path: '/api/admin/products/:productId',
    operationId: 'updateProduct',
    summary: 'Change a product (the sku never changes)',
    tags: ['admin: products'],
    auth: 'admin',
    params: productIdParam,
    body: updateProductSchema,
    responses: { 200: { description: 'The changed product', schema: productSchema }, 404: productNotFound },
  },
];
