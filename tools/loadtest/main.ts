/**
 * The load testers' kit: `npm run loadtest -- --help` (or `npx tsx tools/loadtest/main.ts --help`).
 * Exit codes: 0 the audit and the settle check passed, 1 either failed or the run could not be carried out, 2 bad flags.
 */
import { parseLoadtestArgs, USAGE, UsageError } from './args';
import { RunError, runLoadtest } from './run';
import { parseWaitingRoomArgs, runWaitingRoom, WAITING_ROOM_USAGE } from './waiting-room';

async function main(): Promise<number> {
  if (process.argv.includes('--waiting-room')) {
    if (process.argv.includes('--help')) {
      process.stdout.write(`${WAITING_ROOM_USAGE}\n`);
      return 0;
    }
    return (await runWaitingRoom(parseWaitingRoomArgs(process.argv.slice(2), process.env))).ok ? 0 : 1;
  }
  let parsed;
  try {
    parsed = parseLoadtestArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`loadtest: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  try {
    const outcome = await runLoadtest(parsed.options);
    process.stdout.write(`${outcome.summary}\n\nresult: ${outcome.resultPath}\nreport: ${outcome.reportPath}\n`);
    return outcome.ok ? 0 : 1;
  } catch (err) {
    if (!(err instanceof RunError)) throw err;
    process.stderr.write(`loadtest: ${err.message}\n`);
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`loadtest: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
