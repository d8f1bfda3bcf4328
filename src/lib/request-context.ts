import { AsyncLocalStorage } from 'node:async_hooks';

/** Carries the request id into every log line written while serving that request. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
