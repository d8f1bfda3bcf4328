import { Router } from 'express';
import { parse, parseId } from '../../http/validate';
import { listDeadLetters } from './repository';
import { replayDeadLetter, ReplayDeps } from './replay';
import { listDeadLettersQuerySchema, replayBodySchema } from './validators';

/** `GET /dead-letters`, `POST /dead-letters/:id/replay`; mounted in the `/admin` chain. */
export function adminDeadLettersRouter(deps: ReplayDeps): Router {
  const router = Router();
  router.get('/dead-letters', async (req, res) => {
    const q = parse(listDeadLettersQuerySchema, req.query, 'query');
    const { items, total } = await listDeadLetters(deps.db, q);
    res.json({ items, total, limit: q.limit, offset: q.offset });
  });
  router.post('/dead-letters/:deadLetterId/replay', async (req, res) => {
    const id = parseId(req.params.deadLetterId, 'DEAD_LETTER_NOT_FOUND', 'Dead letter');
    parse(replayBodySchema, req.body);
    const result = await replayDeadLetter(deps, id);
    res.status(result.replayed ? 202 : 200).json(result);
  });
  return router;
}
