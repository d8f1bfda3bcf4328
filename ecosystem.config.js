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
 * needs each client pinned to one process, which nginx does by hashing the client address
 * over these two ports (nginx/flashsale.conf). Cluster mode would round-robin one port
 * across processes. README "Deploying" walks through the whole setup.
 */

/**
 * The APIs sit behind nginx (nginx/flashsale.conf) in every environment:
 * - HOST 127.0.0.1: reachable only through nginx on this host. With TRUST_PROXY_HOPS=1 the API
 *   believes the last X-Forwarded-For entry, which nginx overwrites with the real peer; a
 *   client reaching the API directly could write any address there and dodge the per-IP limit.
 * - TRUST_PROXY_HOPS 1: nginx is the one proxy, so the real client IP reaches the per-IP rate
 *   limit and the logs (with 0 every shopper would share nginx's address).
 */
const behindNginx = { HOST: '127.0.0.1', TRUST_PROXY_HOPS: 1 };

/** Each process's Prometheus listener (127.0.0.1 by default; docs/operations.md lists the targets). */
const api = (name, port, metricsPort) => ({
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
  env: { NODE_ENV: 'development', PORT: port, METRICS_PORT: metricsPort, ...behindNginx },
  env_production: { NODE_ENV: 'production', PORT: port, METRICS_PORT: metricsPort, ...behindNginx },
});

module.exports = {
  apps: [
    api('flashsale-api-1', 3001, 9464),
    api('flashsale-api-2', 3002, 9466),
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
      env: { NODE_ENV: 'development', WORKER_METRICS_PORT: 9465 },
      env_production: { NODE_ENV: 'production', WORKER_METRICS_PORT: 9465 },
    },
  ],
};
