import { Operation } from '../../http/openapi-spec';
import { sessionBodySchema, sessionResponseSchema } from './routes';

/** Admin: the queue dashboard's browser session (the dashboard itself, /admin/queues, is bull-board's page, not API). */
export const queueDashboardOperations: Operation[] = [
  {
    method: 'post',
    path: '/api/admin/session',
    operationId: 'startDashboardSession',
    summary: 'Trade the admin bearer token for the queue dashboard cookie',
    description:
      'Sets `fs_queue_dashboard`, an HttpOnly, SameSite=Strict cookie for Path=/admin/queues, valid 15 minutes (never longer than the bearer token). The admin page calls this, then opens /admin/queues/.',
    tags: ['admin: operations'],
    auth: 'admin',
    body: sessionBodySchema,
    responses: {
      200: {
        description: 'Session started; the cookie is in Set-Cookie',
        schema: sessionResponseSchema,
        headers: { 'Set-Cookie': { description: 'fs_queue_dashboard=<token>; Path=/admin/queues; HttpOnly; SameSite=Strict; Max-Age=900', schema: { type: 'string' } } },
      },
    },
  },
];
