import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { prepareDatabase } from '../src/lib/migration-source';
import { TEST_DATABASE_URL } from './env';
import { alive } from './faults/processes';

/** Creates the test database when missing and migrates it; data is never truncated (each test has its own sale). */
export default async function globalSetup(): Promise<void> {
  startRecordingResponses();
  await prepareDatabase(TEST_DATABASE_URL);
}

const RESPONSES_DIR = path.join(__dirname, '..', 'artifacts', 'openapi');

/**
 * Every JSON response of this run is recorded (test/support/record-responses.cjs) into a
 * file of its own, named for this jest process, so that runs side by side never mix; the
 * conformance test, run last, checks them against the OpenAPI document. The variables
 * reach the test files (in band or in workers, where jest's setupFiles load the recorder)
 * and the API and worker processes tests spawn (NODE_OPTIONS loads it there).
 * Files of runs that have ended are removed.
 */
function startRecordingResponses(): void {
  mkdirSync(RESPONSES_DIR, { recursive: true });
  for (const name of readdirSync(RESPONSES_DIR)) {
    const pid = Number(/^responses-(\d+)\.jsonl$/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) rmSync(path.join(RESPONSES_DIR, name), { force: true });
  }
  const file = path.join(RESPONSES_DIR, `responses-${process.pid}.jsonl`);
  writeFileSync(file, '');
  process.env.OPENAPI_RECORD_FILE = file;
  const recorder = `--require ${path.join(__dirname, 'support', 'record-responses.cjs')}`;
  if (!(process.env.NODE_OPTIONS ?? '').includes(recorder)) process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} ${recorder}`.trim();
}

