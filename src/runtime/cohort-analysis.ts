import { cohortMrr, type CohortGrain, type CohortReport } from '../core/analysis/cohort-mrr.js';
import type { QualifiedTransition } from '../core/engine/transition.js';
import type { Definition } from '../core/definitions/definition.js';
import { openStore } from '../store/open-store.js';
import { backtestWorkspace } from './backtest.js';
import { loadAnalysisData, type AnalysisSource, type AnalysisLoadStats } from './load-analysis-data.js';
import { backtestStore } from './store-backtest.js';

/** Options of `cohortAnalysis`. */
export interface CohortAnalysisOptions {
  readonly by: CohortGrain;
  /** Split by qualifying definition (replays `definitions` over the same history). */
  readonly split: boolean;
  readonly definitions: readonly Definition[];
  /** Progress of reading the history (bytes of events.ndjson, or stored events), then of the replay. */
  readonly onProgress?: (stage: 'reading' | 'replaying', done: number, total: number) => void;
}

/** The cohort view of `pql cohorts --json` and `GET /api/analysis/cohorts`, with the data's end. */
export type CohortAnalysis = CohortReport & { readonly dataEnd: string | null };

/**
 * The sign-up cohort MRR view of a workspace export or a store: timelines from `loadAnalysisData`, and,
 * with `split`, the qualifications a backtest replay of `definitions` makes over the same history.
 */
export async function cohortAnalysis(
  source: AnalysisSource,
  options: CohortAnalysisOptions,
): Promise<CohortAnalysis & { readonly load: AnalysisLoadStats }> {
  const data = await loadAnalysisData(source, {
    onProgress: (done, total) => options.onProgress?.('reading', done, total),
  });
  const qualifications = options.split ? await replayQualifications(source, options) : undefined;
  const report = cohortMrr(data, {
    by: options.by,
    split: options.split,
    ...(qualifications === undefined ? {} : { qualifications }),
  });
  return {
    ...report,
    dataEnd: data.accounts.length === 0 ? null : new Date(data.dataEnd).toISOString(),
    load: data.load,
  };
}

async function replayQualifications(
  source: AnalysisSource,
  options: CohortAnalysisOptions,
): Promise<readonly QualifiedTransition[]> {
  if ('exportDir' in source) {
    const result = await backtestWorkspace(source.exportDir, options.definitions, (done, total) =>
      options.onProgress?.('replaying', done, total),
    );
    return result.transitions.flatMap((t) => (t.kind === 'qualified' ? [t] : []));
  }
  if ('store' in source) return (await backtestStore(source.store, options.definitions)).qualified;
  const store = await openStore({ dataDir: source.dataDir });
  try {
    return (await backtestStore(store, options.definitions)).qualified;
  } finally {
    await store.close();
  }
}
