import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CohortGrain } from '../core/analysis/cohort-mrr.js';
import type { Definition } from '../core/definitions/definition.js';
import { backtestJson, replayDefinitions, replayMeasures } from '../runtime/backtest-report.js';
import { cohortAnalysis } from '../runtime/cohort-analysis.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';

/** What the cohort and backtest analysis API reads: the live store and definitions, behind the admin token. */
export interface AnalysisCohortDependencies {
  readonly queue: CommitQueue;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
}

const DEFAULT_CONVERSION_DAYS = 90;

/**
 * Registers `GET /api/analysis/cohorts?by=week|month[&split=definition]` (the sign-up cohort MRR view) and
 * `GET /api/analysis/backtest[?definitions=a,b&conversionDays=90]` (the live definitions replayed over the
 * stored history, with their measures): the JSON equals `pql cohorts --data-dir D --json` and
 * `pql backtest --data-dir D --json`. The latest answer of each kind is kept until the event log, trait
 * changes or definitions change; concurrent requests for it share one computation.
 */
export function registerAnalysisCohortRoutes(app: FastifyInstance, deps: AnalysisCohortDependencies): void {
  const { queue, requireAdmin } = deps;
  const cache = new Map<string, { readonly key: string; readonly result: Promise<unknown> }>();
  const cached = async (
    kind: string,
    parameters: unknown,
    compute: () => Promise<unknown>,
  ): Promise<unknown> => {
    const store = queue.detector.store;
    const [events, changes] = await Promise.all([store.countEvents(), store.readTraitChanges()]);
    const definitions = queue.detector.definitions.map((d) => d.definition.contentHash);
    const key = JSON.stringify([parameters, events, changes.length, definitions]);
    const known = cache.get(kind);
    if (known?.key === key) return known.result;
    const result = compute();
    cache.set(kind, { key, result });
    // A failed run is not kept: the next request tries again.
    result.catch(() => {
      if (cache.get(kind)?.result === result) cache.delete(kind);
    });
    return result;
  };

  app.get('/api/analysis/cohorts', { preHandler: requireAdmin }, async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const by = grainParameter(query['by']);
    const split = splitParameter(query['split']);
    return cached('cohorts', [by, split], async () => {
      const { load: _load, ...view } = await cohortAnalysis(
        { store: queue.detector.store },
        { by, split, definitions: liveDefinitions(queue) },
      );
      return view;
    });
  });

  app.get('/api/analysis/backtest', { preHandler: requireAdmin }, async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    const definitions = pickDefinitions(liveDefinitions(queue), query['definitions']);
    const conversionDays = conversionDaysParameter(query['conversionDays']);
    return cached('backtest', [definitions.map((d) => d.id), conversionDays], async () => {
      const run = await replayDefinitions({ store: queue.detector.store }, definitions);
      return backtestJson(run, definitions, replayMeasures(run, definitions, conversionDays));
    });
  });
}

function liveDefinitions(queue: CommitQueue): Definition[] {
  return queue.detector.definitions.map((d) => d.definition);
}

function grainParameter(raw: unknown): CohortGrain {
  if (raw === undefined || raw === '') return 'month';
  if (raw === 'week' || raw === 'month') return raw;
  throw new HttpError(400, 'invalid_query', `by: expected week or month, got ${JSON.stringify(raw)}`, 'by');
}

function splitParameter(raw: unknown): boolean {
  if (raw === undefined || raw === '') return false;
  if (raw === 'definition') return true;
  throw new HttpError(
    400,
    'invalid_query',
    `split: expected "definition", got ${JSON.stringify(raw)}`,
    'split',
  );
}

function conversionDaysParameter(raw: unknown): number {
  if (raw === undefined || raw === '') return DEFAULT_CONVERSION_DAYS;
  const n = typeof raw === 'string' ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 3650)
    throw new HttpError(
      400,
      'invalid_query',
      `conversionDays: expected a whole number of days from 1 to 3650, got ${JSON.stringify(raw)}`,
      'conversionDays',
    );
  return n;
}

function pickDefinitions(live: readonly Definition[], raw: unknown): Definition[] {
  if (raw === undefined || raw === '') return [...live];
  if (typeof raw !== 'string')
    throw new HttpError(400, 'invalid_query', 'definitions: expected ids separated by commas', 'definitions');
  const ids = raw
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  const unknown = ids.filter((id) => !live.some((d) => d.id === id));
  if (unknown.length > 0)
    throw new HttpError(
      400,
      'invalid_query',
      `definitions: no live definition ${unknown.map((id) => JSON.stringify(id)).join(', ')} (live: ${live.map((d) => d.id).join(', ')})`,
      'definitions',
    );
  return live.filter((d) => ids.includes(d.id));
}
