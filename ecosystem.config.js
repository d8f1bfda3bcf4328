/**
 * pm2 process file for the flash-sale checkout engine (bare-metal / VM deploys).
 *
 * Runs the compiled build: run `npm run build` (and `node dist/src/cli/migrate.js`) first.
 *
 *   export JWT_SECRET=... DATABASE_URL=... REDIS_URL=...   # pm2 passes the shell env through
 *   pm2 start ecosystem.config.js --env production
 *   pm2 reload ecosystem.config.js --env production --update-env
 *
 * Two named API apps on ports 3001/3002, not pm2 cluster mode: Socket.io long-polling
 * needs each client pinned to one process, which nginx does with ip_hash over these two
 * ports (nginx/flashsale.conf). Cluster mode would round-robin one port across processes.
 */
const api = (name, port) => ({
  name,
  script: 'dist/src/api.js',
  // Flags: src/config/node-flags.ts says why.
  node_args: ['--max-semi-space-size=16', '--heap-growing-percent=100'],
  cwd: __dirname,
  exec_mode: 'fork',
  instances: 1,
  autorestart: true,
  exp_backoff_restart_delay: 200,
  // On SIGINT the API stops accepting, finishes requests in flight, then closes Redis/PostgreSQL.
  kill_timeout: 15000,
  env: { NODE_ENV: 'development', PORT: port },
  env_production: { NODE_ENV: 'production', PORT: port, TRUST_PROXY_HOPS: 1 },
});

module.exports = {
  apps: [
    api('flashsale-api-1', 3001),
    api('flashsale-api-2', 3002),
    {
      name: 'flashsale-worker',
      script: 'dist/workers/purchase-worker.js',
      cwd: __dirname,
      exec_mode: 'fork',
      instances: 1,
      autorestart: true,
      exp_backoff_restart_delay: 200,
      // The worker finishes the jobs in hand before exiting; give it longer than a job lock
      // (WORKER_LOCK_MS, 30 s) so pm2 never SIGKILLs it mid-commit.
      kill_timeout: 40000,
      env: { NODE_ENV: 'development' },
      env_production: { NODE_ENV: 'production' },
    },
  ],
};
