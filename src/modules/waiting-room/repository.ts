import { Db } from '../../lib/db';
import { WaitingRoomSettings } from '../sales/validators';

type Stored = { enabled: boolean; opensAt: string | null; admitPerSecond: number; passSeconds: number; margin: number; paused: boolean; proofOfWork?: false | number };

/** A sale's room settings and seed (`sales.waiting_room`, `sales.line_seed`); undefined: no such sale. */
export async function findRoom(db: Db, saleId: string): Promise<{ settings: WaitingRoomSettings | null; seed: string | null } | undefined> {
  const row = await db('sales').where({ id: saleId }).first<{ waiting_room: Stored | null; line_seed: string | null } | undefined>('waiting_room', 'line_seed');
  if (!row) return undefined;
  const s = row.waiting_room;
  return { settings: s ? { ...s, proofOfWork: s.proofOfWork ?? false, opensAt: s.opensAt ? new Date(s.opensAt) : null } : null, seed: row.line_seed };
}

/** Saves the settings; the seed is written only once (the published hash must stay true). */
export async function saveRoom(db: Db, saleId: string, settings: WaitingRoomSettings, seed: string): Promise<string> {
  const stored: Stored = { ...settings, opensAt: settings.opensAt ? settings.opensAt.toISOString() : null };
  const [row] = await db('sales')
    .where({ id: saleId })
    .update({ waiting_room: JSON.stringify(stored), line_seed: db.raw('COALESCE(line_seed, ?)', [seed]), updated_at: db.fn.now() })
    .returning<{ line_seed: string }[]>('line_seed');
  return row!.line_seed;
}
