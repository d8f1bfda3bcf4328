/**
 * Node flags the API process is started with in production (Dockerfile, docker-compose,
 * ecosystem.config.js, and the bench's engine; test/node-flags.test.ts keeps them equal).
 *
 * Under a flood of small requests many request-scoped objects outlive two scavenges and
 * are promoted; the old space then fills with garbage, and V8 lets it grow to ~4x the
 * live heap (~30 MB live, mark-compact at ~130 MB) before collecting. Growing it by at
 * most 2x (`--heap-growing-percent=100`) keeps the API's RSS at ~150-160 MB instead of
 * ~210, at no CPU cost we could measure with the young generation at V8's 16 MB (pinned
 * here). Capping the young generation instead (4 MB, then 8 MB, as shipped before) saved
 * less RSS and cost 10-25% more CPU per attempt in scavenges. Measured side by side
 * (engine processes under the same load, CPU µs per attempt / max RSS MB):
 * 16 MB 319 / 213; 16 MB + growing 100% 322 / 157; 8 MB 342 / 195; 4 MB ~25% more / 179.
 */
export const API_NODE_FLAGS = ['--max-semi-space-size=16', '--heap-growing-percent=100'] as const;
