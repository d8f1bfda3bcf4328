import { Operation, saleIdParam, saleNotFound } from '../../http/openapi-spec';
import { reconcileReportSchema } from '../../http/response-schemas';
import { reconcileBodySchema } from './routes';

/** Admin: reconcile a sale: every route of this module, described once beside its router. */
export const recoveryOperations: Operation[] = [
  {
    method: 'post',
    path: '/api/admin/sales/:saleId/reconcile',
    operationId: 'reconcileSale',
    summary: "Rebuild the sale's Redis gate from PostgreSQL",
    tags: ['admin: sales'],
    auth: 'admin',
    params: saleIdParam,
    body: reconcileBodySchema,
    responses: { 200: { description: 'What was found and done', schema: reconcileReportSchema }, 404: saleNotFound },
  },
];
