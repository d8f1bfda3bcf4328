import { AppError, Errors } from '../lib/errors';

export const SOLD_OUT_MESSAGE = 'Not enough units left for this request';

/** Translates admit-7.lua's negative codes into domain errors (codes listed in the script header). */
export function admitRefusal(code: number): AppError {
  switch (code) {
    case -2:
      return Errors.conflict('SALE_NOT_STARTED', 'This sale has not started yet');
    case -3:
      return Errors.conflict('SALE_ENDED', 'This sale has ended');
    case -4:
      return Errors.conflict('SALE_CANCELLED', 'This sale was cancelled');
    case -5:
      return Errors.conflict('SOLD_OUT', SOLD_OUT_MESSAGE);
    case -6:
      return Errors.conflict('LIMIT_EXCEEDED', 'This would take you over the per-shopper limit for this sale');
    case -7:
      return Errors.conflict('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used with a different quantity');
    default:
      return new AppError('unexpected', 'INTERNAL', `Unexpected admission code ${code}`);
  }
}
