/**
 * Node flags the API process is started with in production (Dockerfile, docker-compose,
 * ecosystem.config.js, and the bench's engine; test/node-flags.test.ts keeps them equal).
 *
 * A capped young generation: under a flood of small requests V8 grows each semi-space to
 * 16 MB, ~30 MB more RSS per API process (218 vs 190 MB measured side by side). 8 MB, not
 * 4: at 4 MB the API spent ~25% more CPU per attempt on scavenges (engine processes side
 * by side: 423-470 µs at 4 MB, 370 at 8, 306-364 at 16; bench admitting 0.28x -> 0.35x
 * of hello going from 4 to 8), for ~11 MB less RSS.
 */
export const API_NODE_FLAGS = ['--max-semi-space-size=8'] as const;
