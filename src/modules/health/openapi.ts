import { Operation } from '../../http/openapi-spec';
import { healthDeepSchema, healthLiveSchema, healthReadySchema } from '../../http/response-schemas';

/** Health: live, ready, deep: every route of this module, described once beside its router. */
export const healthOperations: Operation[] = [

  {
    method: 'get',
    path: '/api/health',
    operationId: 'health',
    summary: 'Deep health: PostgreSQL, Redis, queue',
    tags: ['health'],
    auth: 'none',
    responses: {
      200: { description: 'All good', schema: healthDeepSchema },
      503: { description: 'A dependency failed', schema: healthDeepSchema },
    },
  },
  {
    method: 'get',
    path: '/api/health/live',
    operationId: 'healthLive',
    summary: 'Liveness: the process answers',
    tags: ['health'],
    auth: 'none',
    responses: { 200: { description: 'Alive', schema: healthLiveSchema } },
  },
  {
    method: 'get',
    path: '/api/health/ready',
    operationId: 'healthReady',
    summary: 'Readiness: PostgreSQL and Redis answer and the process is not shutting down',
    tags: ['health'],
    auth: 'none',
    responses: {
      200: { description: 'Ready', schema: healthReadySchema },
      503: { description: 'Not ready', schema: healthReadySchema },
    },
  },
];
