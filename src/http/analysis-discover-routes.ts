import type { FastifyInstance, FastifyRequest } from 'fastify';
import { discoveryJson, runDiscovery } from '../runtime/run-discovery.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';

/** What the discovery API reads: the live store and definitions, behind the admin token. */
export interface AnalysisDiscoverDependencies {
  readonly queue: CommitQueue;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
}

const DEFAULT_BEHAVIOUR_DAYS = 30;
const DEFAULT_CONVERSION_DAYS = 90;

/**
 * Registers `GET /api/analysis/discover[?behaviourDays=30&conversionDays=90]`: signal discovery over the
 * stored events and CRM/billing trait changes, with the live definitions' funnels as candidates; the JSON
 * equals `pql discover --data-dir D --definitions <the live ones> --json`. One report is computed at a time
 * and kept until the event log or the definitions change.
 */
export function registerAnalysisDiscoverRoutes(
  app: FastifyInstance,
  deps: AnalysisDiscoverDependencies,
): void {
  const { queue, requireAdmin } = deps;
  let cached: { key: string; report: Promise<Record<string, unknown>> } | undefined;

  app.get('/api/analysis/discover', { preHandler: requireAdmin }, async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const behaviourDays = daysParameter(query, 'behaviourDays', DEFAULT_BEHAVIOUR_DAYS);
    const conversionDays = daysParameter(query, 'conversionDays', DEFAULT_CONVERSION_DAYS);
    if (conversionDays < behaviourDays)
      throw new HttpError(
        400,
        'invalid_query',
        `conversionDays: expected at least behaviourDays (${behaviourDays}), got ${conversionDays}`,
        'conversionDays',
      );
    const detector = queue.detector;
    const definitions = detector.definitions.map((d) => d.definition);
    const [events, changes] = await Promise.all([
      detector.store.countEvents(),
      detector.store.readTraitChanges(),
    ]);
    const key = JSON.stringify([
      behaviourDays,
      conversionDays,
      events,
      changes.length,
      definitions.map((d) => d.contentHash),
    ]);
    if (cached?.key !== key) {
      const report = runDiscovery(
        { store: detector.store },
        { behaviourDays, conversionDays, definitions },
      ).then(discoveryJson);
      cached = { key, report };
      // A failed run is not kept: the next request tries again.
      report.catch(() => {
        if (cached?.report === report) cached = undefined;
      });
    }
    return cached.report;
  });
}

function daysParameter(query: Record<string, unknown>, name: string, fallback: number): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return fallback;
  const n = typeof raw === 'string' ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 3650)
    throw new HttpError(
      400,
      'invalid_query',
      `${name}: expected a whole number of days from 1 to 3650, got ${JSON.stringify(raw)}`,
      name,
    );
  return n;
}
