/** The stages of bench/servers/stages.ts, in build-up order (shared with the runner, bench/stages.ts). */
export const STAGES = ['express', 'headers', 'auth', 'body', 'gate', 'admission'] as const;
export type Stage = (typeof STAGES)[number];
