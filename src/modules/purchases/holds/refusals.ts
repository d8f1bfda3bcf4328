import { Errors } from '../../../lib/errors';

/** 409s shared by paying and cancelling a hold. */
export const holdEnded = () => Errors.conflict('PURCHASE_EXPIRED', 'The hold on this purchase ended before it was paid; its units went back on sale');

export const notYetConfirmed = (action: 'pay' | 'cancel') =>
  Errors.conflict('PURCHASE_NOT_CONFIRMED', `This purchase is still being processed; ${action} once it is confirmed`);
