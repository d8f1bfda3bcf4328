/**
 * The gate's purchase record, as stored in a sale's purchases hash:
 * "status|quantity|createdAtMs|userId" (userId last: it may contain '|'). The Lua side of
 * the same format is lua/includes/records.lua; this is the one TypeScript parser.
 */
export type GateRecordStatus = 'queued' | 'processing' | 'confirmed' | 'rejected' | 'paid' | 'expired' | 'cancelled';

export type GateRecord = { status: GateRecordStatus; quantity: number; createdAtMs: number; userId: string };

const RECORD = /^([a-z]+)\|(\d+)\|(\d+)\|(.*)$/s;

export function parseGateRecord(rec: string | null | undefined): GateRecord | undefined {
  const m = rec ? RECORD.exec(rec) : null;
  if (!m) return undefined;
  return { status: m[1] as GateRecordStatus, quantity: Number(m[2]), createdAtMs: Number(m[3]), userId: m[4]! };
}

/** Admitted and not decided yet: queued, or claimed by a worker (which to the shopper is still queued). */
export const isPending = (r: GateRecord | undefined): boolean => r?.status === 'queued' || r?.status === 'processing';
