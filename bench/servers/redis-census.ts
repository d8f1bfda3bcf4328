/**
 * Client-side census of Redis commands: which commands a process SENDS, by name, and for
 * EVALSHA/EVAL by script. INFO commandstats on the server counts every command, including
 * the ones a Lua script runs inside itself, and cannot tell one script from another; this
 * counts what clients send, so the bench can say which script each EVALSHA was and how
 * many of a command's calls came from inside scripts (server calls − sent calls).
 *
 * It wraps ioredis's `Redis.prototype.sendCommand` (every command, pipelined or not, passes
 * there once) and `defineCommand` (the engine's and BullMQ's scripts: name ↔ SHA1 of the
 * Lua, as ioredis computes it); bodies loaded with `SCRIPT LOAD` are named by their SHA1. Cost:
 * one Map increment per command in the measured processes.
 *
 * Loaded with `node --require dist/bench/servers/redis-census.js` into the engine and the
 * worker when `BENCH_REDIS_CENSUS_DIR` is set: on SIGUSR2 the process writes its counts so
 * far to `<dir>/<pid>.json` (`seq` goes up by one each time). The bench process imports it
 * and reads its own counts with `censusCounts()` (its own commands are not the engine's).
 * Nothing in src/ knows about it.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';

export type CensusCounts = {
  /** Commands sent, by the server's name for them (`evalsha`, `set`, `config|set`, ...). */
  calls: Record<string, number>;
  /** EVALSHA/EVAL sent, by script name (`fsAdmitV4`, `moveToFinished:6.7.0`, ...). */
  scripts: Record<string, number>;
  /**
   * Arguments sent (after the command name), by script name for EVALSHA, else by command: a
   * batch script's size (claim-2's ids, finalize-6's triples), so the bench can scale its sampled cost.
   */
  args: Record<string, number>;
  /** SHA1 → script name, for every script this process defined or loaded. */
  shas: Record<string, string>;
};
export type CensusDump = CensusCounts & { pid: number; seq: number };

/** Commands INFO commandstats reports per subcommand (`cmdstat_config|set`). */
export const WITH_SUBCOMMAND = new Set(['acl', 'client', 'cluster', 'command', 'config', 'function', 'latency', 'memory', 'module', 'object', 'pubsub', 'script', 'slowlog', 'xinfo']);

const sha1 = (text: string) => createHash('sha1').update(text).digest('hex');

const calls = new Map<string, number>();
const scriptCalls = new Map<string, number>();
const argCounts = new Map<string, number>();
const shas = new Map<string, string>();
let installed = false;
let seq = 0;

/** A name for a script loaded with SCRIPT LOAD (not defineCommand; the engine loads none today). */
function loadedScriptName(lua: string): string {
  return `script ${sha1(lua).slice(0, 8)}`;
}

const bump = (m: Map<string, number>, key: string, by = 1) => m.set(key, (m.get(key) ?? 0) + by);
const str = (x: unknown) => (typeof x === 'string' ? x : Buffer.isBuffer(x) ? x.toString() : String(x));

type CommandLike = { name: string; args: unknown[] };

function count(command: CommandLike): void {
  const name = command.name.toLowerCase();
  if (name === 'evalsha' || name === 'eval') {
    // ioredis's script commands are built as evalsha and may be rewritten to eval on the
    // wire (first use on a connection); both are counted as the script's evalsha here.
    const first = str(command.args[0]);
    const sha = name === 'evalsha' ? first.toLowerCase() : sha1(first);
    const script = shas.get(sha) ?? `evalsha ${sha.slice(0, 8)}`;
    bump(calls, 'evalsha');
    bump(scriptCalls, script);
    bump(argCounts, script, command.args.length);
    return;
  }
  if (WITH_SUBCOMMAND.has(name) && command.args.length > 0) {
    const sub = str(command.args[0]).toLowerCase();
    if (name === 'script' && sub === 'load') {
      const lua = str(command.args[1]);
      shas.set(sha1(lua), loadedScriptName(lua));
    }
    bump(calls, `${name}|${sub}`);
    bump(argCounts, `${name}|${sub}`, command.args.length);
    return;
  }
  bump(calls, name);
  bump(argCounts, name, command.args.length);
}

/** Patches ioredis once in this process; idempotent. */
export function installCensus(): void {
  if (installed) return;
  installed = true;
  const proto = Redis.prototype as unknown as {
    sendCommand: (command: CommandLike, ...rest: unknown[]) => unknown;
    defineCommand: (name: string, definition: { lua: string; numberOfKeys?: number }) => unknown;
  };
  const send = proto.sendCommand;
  proto.sendCommand = function (this: unknown, command: CommandLike, ...rest: unknown[]) {
    count(command);
    return send.call(this, command, ...rest);
  };
  const define = proto.defineCommand;
  proto.defineCommand = function (this: unknown, name: string, definition: { lua: string; numberOfKeys?: number }) {
    shas.set(sha1(definition.lua), name);
    return define.call(this, name, definition);
  };
}

/** This process's counts so far. */
export function censusCounts(): CensusCounts {
  return { calls: Object.fromEntries(calls), scripts: Object.fromEntries(scriptCalls), args: Object.fromEntries(argCounts), shas: Object.fromEntries(shas) };
}

const dir = process.env.BENCH_REDIS_CENSUS_DIR;
if (dir) {
  installCensus();
  process.on('SIGUSR2', () => {
    seq += 1;
    const dump: CensusDump = { pid: process.pid, seq, ...censusCounts() };
    const file = path.join(dir, `${process.pid}.json`);
    // Written whole, then renamed: the bench never reads half a file.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(dump));
    fs.renameSync(`${file}.tmp`, file);
  });
}
