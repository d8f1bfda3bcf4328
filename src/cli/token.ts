/** `npm run token -- --sub alice [--role admin] [--ttl 3600]`: prints a bearer token for local use. */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config';
import { signToken } from '../modules/auth/tokens';

const usage = 'usage: npm run token -- --sub <user id> [--role admin|shopper] [--ttl <seconds>]';

function main(): void {
  let values: { sub?: string; role?: string; ttl?: string };
  try {
    ({ values } = parseArgs({ options: { sub: { type: 'string' }, role: { type: 'string' }, ttl: { type: 'string' } } }));
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${usage}`);
  }
  const sub = values.sub ?? '';
  if (sub.length < 1 || sub.length > 128) throw new Error(`--sub is required (1-128 characters)\n${usage}`);
  if (values.role !== undefined && values.role !== 'admin' && values.role !== 'shopper') throw new Error(`--role must be admin or shopper\n${usage}`);
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 24 * 3600) throw new Error(`--ttl must be whole seconds, 1 to 2592000\n${usage}`);
  const config = loadConfig();
  console.log(signToken({ sub, role: values.role as 'admin' | 'shopper' | undefined }, config.jwtSecret, ttl));
}

try {
  main();
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
}
