import { Db } from '../../lib/db';
import { Errors } from '../../lib/errors';
import { WEBHOOK_EVENT_TYPES } from './events';
import { deleteEndpoint, EndpointView, insertEndpoint, listEndpoints, toEndpointView } from './repository';
import { newSecret } from './signature';
import { CreateEndpointInput } from './validators';

/** Registers an endpoint. The answer carries the secret: the only time it is shown. */
export async function registerEndpoint(db: Db, input: CreateEndpointInput): Promise<EndpointView & { secret: string }> {
  const row = await insertEndpoint(db, {
    url: input.url,
    secret: input.secret ?? newSecret(),
    eventTypes: input.eventTypes ?? [...WEBHOOK_EVENT_TYPES],
    description: input.description,
  });
  return { ...toEndpointView(row), secret: row.secret };
}

export async function endpointPage(db: Db, page: { limit: number; offset: number }): Promise<EndpointView[]> {
  return (await listEndpoints(db, page)).map(toEndpointView);
}

/** Stops deliveries to it at once (pending ones are dropped); its history stays. */
export async function removeEndpoint(db: Db, id: string): Promise<EndpointView> {
  const row = await deleteEndpoint(db, id);
  if (!row) throw Errors.notFound('WEBHOOK_NOT_FOUND', 'Webhook endpoint not found');
  return toEndpointView(row);
}
