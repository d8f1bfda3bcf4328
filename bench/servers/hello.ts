/**
 * Bench scenario (a), the framework floor: a bare Express 5 app with one route,
 * `GET /hello` -> `{"hello":"world"}`. Default Express settings, no middleware.
 * Listens on PORT (0 = any free port) and HOST, then prints `READY <port>` on stdout.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import express from 'express';

function listenPort(raw: string | undefined): number {
  const port = Number(raw ?? '0');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be 0-65535, got "${raw}"`);
  return port;
}

function createHelloApp(): express.Express {
  const app = express();
  app.get('/hello', (_req, res) => {
    res.json({ hello: 'world' });
  });
  return app;
}

async function main(): Promise<void> {
  const server = http.createServer(createHelloApp());
  await new Promise<void>((resolve) => server.listen(listenPort(process.env.PORT), process.env.HOST ?? '127.0.0.1', resolve));
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);

  const shutdown = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // Spawned by bench/run.ts with an IPC channel: leave when the orchestrator goes away.
  if (process.send) process.once('disconnect', shutdown);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
