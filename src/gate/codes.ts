import { AppError, Errors } from '../lib/errors';

export const SOLD_OUT_MESSAGE = 'Not enough units left for this request';

/** admit-8.lua's return codes (listed in its header). No bare numbers elsewhere. */
export const AdmitCode = {
  admitted: 1,
  existing: 2,
  notLoaded: -1,
  notStarted: -2,
  ended: -3,
  cancelled: -4,
  soldOut: -5,
  limitExceeded: -6,
  idempotencyConflict: -7,
  rateLimited: -8,
  passRequired: -9,
  passUsed: -10,
  passExpired: -11,
} as const;

/** restock-2.lua's return codes (listed in its header). */
export const RestockCode = { applied: 1, notLoaded: -1, belowZero: -2, cancelled: -3 } as const;

/** Translates admit-8.lua's refusals into domain errors (codes listed in the script header). */
export function admitRefusal(code: number, detail?: number): AppError {
  switch (code) {
    case AdmitCode.passRequired:
      return new AppError('forbidden', 'PASS_REQUIRED', 'This sale has a waiting room: join the line and buy with the pass your turn gives (header Sale-Pass)');
    case AdmitCode.passUsed:
      return Errors.conflict('PASS_USED', 'This pass has already been used for a purchase');
    case AdmitCode.passExpired:
      return new AppError('forbidden', 'PASS_EXPIRED', 'This pass has expired; your turn has passed');
    case AdmitCode.rateLimited:
      return Errors.rateLimited((detail ?? 60_000) / 1000);
    case AdmitCode.notStarted:
      return Errors.conflict('SALE_NOT_STARTED', 'This sale has not started yet');
    case AdmitCode.ended:
      return Errors.conflict('SALE_ENDED', 'This sale has ended');
    case AdmitCode.cancelled:
      return Errors.conflict('SALE_CANCELLED', 'This sale was cancelled');
    case AdmitCode.soldOut:
      return Errors.conflict('SOLD_OUT', SOLD_OUT_MESSAGE);
    case AdmitCode.limitExceeded:
      return Errors.conflict('LIMIT_EXCEEDED', 'This would take you over the per-shopper limit for this sale');
    case AdmitCode.idempotencyConflict:
      return Errors.conflict('IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used with a different quantity');
    default:
      return new AppError('unexpected', 'INTERNAL', `Unexpected admission code ${code}`);
  }
}
