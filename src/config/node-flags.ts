/**
 * Node flags the API process is started with in production (Dockerfile, docker-compose,
 * ecosystem.config.js, and the bench's engine; test/node-flags.test.ts keeps them equal).
 *
 * A smaller young generation: under a flood of small requests V8 grows each semi-space to
 * 16 MB, which measured ~40 MB more RSS per API process (218 vs 178 MB in `npm run bench`)
 * for no throughput we could see; scavenges of 4 MB stay short.
 */
export const API_NODE_FLAGS = ['--max-semi-space-size=4'] as const;
