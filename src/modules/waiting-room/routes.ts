import { RequestHandler, Router } from 'express';
import { parse, parseId } from '../../http/validate';
import { principalOf } from '../auth/middleware';
import { waitingRoomPatchSchema, waitingRoomSchema } from '../sales/validators';
import { fairnessOf, placesOf } from './published';
import { WaitingRooms } from './room';
import { placesQuerySchema } from './validators';
import { Db } from '../../lib/db';
import { RedisClient } from '../../lib/redis';
import { Keys } from '../../gate/keys';

type Deps = { db: Db; redis: RedisClient; keys: Keys; line: WaitingRooms };
const saleIdOf = (raw: unknown) => parseId(raw, 'SALE_NOT_FOUND', 'Sale');

/** Shopper and public line routes: join, read one's place, the commitment and the published order. */
export function lineRouter(deps: Deps, guard: { user: RequestHandler; limiters: RequestHandler[] }): Router {
  const router = Router();
  router.post('/sales/:saleId/line', guard.user, ...guard.limiters, async (req, res) => {
    const { userId } = principalOf(req);
    const proof = req.header('line-proof');
    const { created, state } = await deps.line.join(saleIdOf(req.params.saleId), userId, proof);
    res.status(created ? 201 : 200).json(state);
  });
  router.get('/sales/:saleId/line/challenge', guard.user, ...guard.limiters, async (req, res) => {
    const { userId } = principalOf(req);
    res.json(await deps.line.challenge(saleIdOf(req.params.saleId), userId));
  });
  router.get('/sales/:saleId/line', guard.user, async (req, res) => {
    const { userId } = principalOf(req);
    res.json(await deps.line.read(saleIdOf(req.params.saleId), userId));
  });
  router.get('/sales/:saleId/line/fairness', async (req, res) => {
    res.json(await fairnessOf(deps, saleIdOf(req.params.saleId)));
  });
  router.get('/sales/:saleId/line/places', async (req, res) => {
    const q = parse(placesQuerySchema, req.query, 'query');
    res.json({ ...(await placesOf(deps, saleIdOf(req.params.saleId), q)), limit: q.limit, offset: q.offset });
  });
  return router;
}

/** Admin: set up a sale's room (PUT), change it live (PATCH: pause, resume, rate...), watch it (GET). */
export function adminLineRouter(deps: Deps): Router {
  const router = Router();
  router.put('/sales/:saleId/waiting-room', async (req, res) => {
    res.json(await deps.line.configure(saleIdOf(req.params.saleId), parse(waitingRoomSchema, req.body), 'replace'));
  });
  router.patch('/sales/:saleId/waiting-room', async (req, res) => {
    res.json(await deps.line.configure(saleIdOf(req.params.saleId), parse(waitingRoomPatchSchema, req.body), 'change'));
  });
  router.get('/sales/:saleId/waiting-room', async (req, res) => {
    res.json(await deps.line.adminView(saleIdOf(req.params.saleId)));
  });
  return router;
}
