import { isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/config';

/** How long to hammer: a wall-clock duration or a number of attempts. */
export type HammerMode = { kind: 'duration'; seconds: number } | { kind: 'attempts'; count: number };

/** What becomes of the purchases the run bought: paid, cancelled, or left to expire. */
export const SETTLE_MODES = ['pay', 'cancel', 'leave'] as const;
export type SettleMode = (typeof SETTLE_MODES)[number];

export type LoadtestOptions = {
  /** Origin of the engine, e.g. http://127.0.0.1:3000 (loopback only). */
  url: string;
  users: number;
  /** Stock and limit of the sale the kit creates; ignored (read from the audit) with `saleId`. */
  stock: number;
  perUserLimit: number;
  connections: number;
  mode: HammerMode;
  /** Target this existing sale instead of creating one. */
  saleId?: string;
  /** Create the sale listed in the public GET /api/sales (default false: reachable by id only). */
  listed?: boolean;
  /** After the audit: pay (default), cancel or leave every purchase the run saw confirmed. */
  settle?: SettleMode;
  quantity: number;
  out: string;
  drainTimeoutS: number;
  jwtSecret: string;
  /** No live progress line on stderr (tests). */
  quiet?: boolean;
};

export type ParsedArgs = { help: true } | { help: false; options: LoadtestOptions };

export const LIMITS = { durationS: 300, attempts: 2_000_000, users: 200_000, stock: 10_000_000, connections: 1000, drainTimeoutS: 3600 };

export class UsageError extends Error {
  override name = 'UsageError';
}

export const USAGE = `Usage: npm run loadtest -- [options]      (or: npx tsx tools/loadtest/main.ts [options])

Creates a sale through the admin API (unless --sale; unlisted: not in the shop's
GET /api/sales, unless --listed), hammers POST /api/sales/:id/purchases with distinct
shoppers, waits for the queue to drain, audits the sale, settles what it bought (--settle)
and writes a JSON result and a self-contained HTML report. Exit code: 0 audit and settle
passed, 1 audit or settle failed or the run could not be carried out, 2 bad flags.

  --url <origin>          engine to target, loopback only (default http://127.0.0.1:3000)
  --users <n>             distinct shoppers, one token each (default 2000, at most ${LIMITS.users})
  --stock <n>             units of the sale to create (default 1000)
  --per-user-limit <n>    units one shopper may buy (default 1)
  --quantity <n>          units each attempt asks for (default 1)
  --connections <n>       concurrent HTTP connections (default 100, at most ${LIMITS.connections})
  --attempts <n>          stop after this many attempts (default 20000, at most ${LIMITS.attempts})
  --duration <s>          or: hammer for this many seconds (at most ${LIMITS.durationS})
  --sale <uuid>           target this existing sale (its stock and limit come from its audit)
  --listed                create the sale listed in the shop (default: unlisted, reachable by id only)
  --settle <how>          after the audit, what to do with every purchase seen confirmed:
                          pay (default: paid with tok_approve as its shopper), cancel (units
                          back on sale at once) or leave (the holds expire after the sale's
                          holdSeconds, then their units come back on sale)
  --drain-timeout <s>     how long to wait for the queue and the final statuses (default 120)
  --out <dir>             where result-*.json and report-*.html go (default artifacts/loadtest)
  --help                  this text

Tokens are signed with JWT_SECRET (the server's default when unset). Start the engine with
RATE_LIMIT_USER_PER_MIN=0 RATE_LIMIT_IP_PER_MIN=0, or most attempts will be answered 429.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function int(flag: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw.trim())) throw new UsageError(`--${flag} must be a whole number, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new UsageError(`--${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** True for 127.0.0.0/8, localhost and [::1]: the only hosts the kit will hammer. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase();
  if (h === 'localhost' || h === '[::1]' || h === '::1') return true;
  return isIPv4(h) && h.split('.')[0] === '127';
}

/** Validates --url: http(s), a loopback host, no path. Returns the origin. */
export function parseTargetUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:3000, got "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url must be http or https, got "${u.protocol}"`);
  if (!isLoopbackHost(u.hostname)) {
    throw new UsageError(
      `--url ${raw}: the load-test kit only targets this machine (127.0.0.0/8, localhost or [::1]); "${u.hostname}" is not loopback`,
    );
  }
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password) {
    throw new UsageError(`--url must be an origin without path, query or credentials (e.g. http://127.0.0.1:3000), got "${raw}"`);
  }
  return u.origin;
}

/**
 * Parses the command line (strict: unknown flags, missing values and stray arguments are errors).
 * Throws UsageError with a message for the user.
 * @example parseLoadtestArgs(['--users', '3000', '--attempts', '10000'], process.env)
 */
export function parseLoadtestArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        url: { type: 'string' },
        users: { type: 'string' },
        stock: { type: 'string' },
        'per-user-limit': { type: 'string' },
        connections: { type: 'string' },
        duration: { type: 'string' },
        attempts: { type: 'string' },
        sale: { type: 'string' },
        quantity: { type: 'string' },
        out: { type: 'string' },
        'drain-timeout': { type: 'string' },
        listed: { type: 'boolean' },
        settle: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return { help: true };

  const url = parseTargetUrl(values.url ?? 'http://127.0.0.1:3000');
  if (values.duration !== undefined && values.attempts !== undefined) {
    throw new UsageError('--duration and --attempts are mutually exclusive: give one of them');
  }
  const mode: HammerMode =
    values.duration !== undefined
      ? { kind: 'duration', seconds: int('duration', values.duration, 0, 1, LIMITS.durationS) }
      : { kind: 'attempts', count: int('attempts', values.attempts, 20_000, 1, LIMITS.attempts) };

  let saleId: string | undefined;
  if (values.sale !== undefined) {
    if (!UUID.test(values.sale.trim())) throw new UsageError(`--sale must be a sale id (UUID), got "${values.sale}"`);
    if (values.stock !== undefined || values['per-user-limit'] !== undefined) {
      throw new UsageError('--stock and --per-user-limit describe a sale to create; with --sale they are read from that sale');
    }
    if (values.listed) throw new UsageError('--listed describes a sale to create; with --sale the sale is used as it is');
    saleId = values.sale.trim().toLowerCase();
  }
  const stock = int('stock', values.stock, 1000, 1, LIMITS.stock);
  const perUserLimit = int('per-user-limit', values['per-user-limit'], 1, 1, LIMITS.stock);
  if (!saleId && perUserLimit > stock) throw new UsageError(`--per-user-limit (${perUserLimit}) must not exceed --stock (${stock})`);
  const quantity = int('quantity', values.quantity, 1, 1, LIMITS.stock);
  if (!saleId && quantity > perUserLimit) {
    throw new UsageError(`--quantity (${quantity}) must not exceed --per-user-limit (${perUserLimit}): every attempt would be refused`);
  }
  const settle = (values.settle ?? 'pay').trim() as SettleMode;
  if (!SETTLE_MODES.includes(settle)) throw new UsageError(`--settle must be one of ${SETTLE_MODES.join(', ')}, got "${values.settle}"`);
  const out = values.out ?? 'artifacts/loadtest';
  if (out.trim() === '') throw new UsageError('--out must be a directory path');

  let jwtSecret: string;
  try {
    jwtSecret = loadConfig(env).jwtSecret;
  } catch (err) {
    throw new UsageError(`cannot sign tokens: ${err instanceof Error ? err.message : String(err)}`);
  }
  return {
    help: false,
    options: {
      url,
      users: int('users', values.users, 2000, 1, LIMITS.users),
      stock,
      perUserLimit,
      connections: int('connections', values.connections, 100, 1, LIMITS.connections),
      mode,
      ...(saleId ? { saleId } : {}),
      listed: values.listed === true,
      settle,
      quantity,
      out,
      drainTimeoutS: int('drain-timeout', values['drain-timeout'], 120, 1, LIMITS.drainTimeoutS),
      jwtSecret,
    },
  };
}
