import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AlertStatus } from '../store/store.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';

/** What the alert outbox routes need. */
export interface AlertRouteDependencies {
  readonly queue: CommitQueue;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
  readonly clock: () => number;
}

const STATUSES: readonly AlertStatus[] = ['pending', 'delivered', 'dead', 'disabled'];
const MAX_LIMIT = 1000;

/**
 * Registers the alert outbox API (what `pql alerts` does, over HTTP): `GET /api/alerts` (filter `status`,
 * `limit` <= 1000), `GET /api/alerts/:id` (one delivery with its payload) and `POST /api/alerts/:id/retry`
 * (queue a dead-lettered or disabled alert again). Alert ids hold `/` and `:`; send them URL-encoded.
 */
export function registerAlertRoutes(app: FastifyInstance, deps: AlertRouteDependencies): void {
  const { queue, requireAdmin, clock } = deps;
  const store = () => queue.detector.store;

  app.get('/api/alerts', { preHandler: requireAdmin }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const status = query['status'];
    if (status !== undefined && !STATUSES.includes(status as AlertStatus))
      throw new HttpError(
        400,
        'invalid_value',
        `expected one of ${STATUSES.join(', ')}, got "${String(status).slice(0, 40)}"`,
        'query.status',
      );
    const limitText = query['limit'];
    const limit = limitText === undefined ? 100 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
      throw new HttpError(
        400,
        'invalid_value',
        `expected an integer from 1 to ${MAX_LIMIT}, got "${String(limitText).slice(0, 40)}"`,
        'query.limit',
      );
    const alerts = await store().listAlerts({
      ...(status === undefined ? {} : { status: status as AlertStatus }),
      limit,
    });
    return { alerts };
  });

  app.get('/api/alerts/:id', { preHandler: requireAdmin }, async (request) => {
    const id = (request.params as { id: string }).id;
    const alert = await store().getAlert(id);
    if (alert === undefined) throw new HttpError(404, 'not_found', `no alert "${id}"`, 'params.id');
    return { alert };
  });

  app.post('/api/alerts/:id/retry', { preHandler: requireAdmin }, async (request) => {
    const id = (request.params as { id: string }).id;
    const alert = await store().getAlert(id);
    if (alert === undefined) throw new HttpError(404, 'not_found', `no alert "${id}"`, 'params.id');
    if (alert.status !== 'dead' && alert.status !== 'disabled')
      throw new HttpError(
        409,
        'not_retryable',
        `alert "${id}" is ${alert.status}; only dead or disabled alerts can be retried`,
        'params.id',
      );
    await store().retryAlert(id, clock());
    return { alert: await store().getAlert(id) };
  });
}
