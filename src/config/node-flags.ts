/**
 * Node flags the API process is started with in production (Dockerfile, docker-compose,
 * ecosystem.config.js, and the bench's engine; test/node-flags.test.ts keeps them equal).
 *
 * Under a flood of small requests many request-scoped objects outlive two scavenges and
 * are promoted; the old space then fills with garbage, and V8 lets it grow to ~4x the
 * live heap (~30 MB live, mark-compact at ~130 MB, seen with --trace-gc) before
 * collecting. Growing it by at most 2x (`--heap-growing-percent=100`) keeps the API's RSS
 * near 150 MB instead of 205-213, with the young generation at V8's 16 MB (pinned here).
 * Capping the young generation instead (4 MB, then 8 MB, as shipped before) saved less.
 * Side by side: `npx tsx bench/stages.ts --engine-flags="--max-semi-space-size=16"
 * --engine-flags="--max-semi-space-size=8" --engine-flags="--max-semi-space-size=4"`.
 * Two runs (CPU µs per attempt / max RSS MB): shipped 395 / 149 and 322 / 157; 16 MB alone
 * 447 / 205 and 319 / 213; 8 MB 373 / 183 and 342 / 195; 4 MB 550 / 177. CPU per attempt
 * moves ~10% between runs here: 4 MB is clearly dearer, the others are within that.
 */
export const API_NODE_FLAGS = ['--max-semi-space-size=16', '--heap-growing-percent=100'] as const;
