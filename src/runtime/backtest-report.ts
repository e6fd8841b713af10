import {
  definitionSetMeasures,
  type DefinitionSetMeasures,
  type MeasuredAccount,
  type MeasuredQualification,
} from '../core/analysis/backtest-measures.js';
import type { Definition } from '../core/definitions/definition.js';
import type { QualifiedTransition } from '../core/engine/transition.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { pqlJson } from '../cli/format-pql.js';
import { backtestWorkspace } from './backtest.js';
import type { AnalysisSource } from './load-analysis-data.js';
import { backtestStore, type StoreBacktestResult } from './store-backtest.js';

/** One replay of a definition set with what the measures and the report need. */
export interface BacktestReplay {
  readonly pqls: readonly QualifiedTransition[];
  readonly qualifications: readonly MeasuredQualification[];
  readonly measuredAccounts: readonly MeasuredAccount[];
  readonly dataEnd: number;
  /** The `summary` object of `--json` (without `byDefinition`). */
  readonly summary: Readonly<Record<string, unknown>>;
  readonly warnings: readonly string[];
}

/**
 * Replays a workspace export, a store's data directory or an open store through `definitions` (CRM and
 * billing at their effective times), keeping what the backtest report and its measures need.
 */
export async function replayDefinitions(
  source: AnalysisSource,
  definitions: readonly Definition[],
  onProgress?: (done: number, total: number) => void,
): Promise<BacktestReplay> {
  if ('exportDir' in source) {
    const result = await backtestWorkspace(source.exportDir, definitions, onProgress);
    return {
      pqls: result.transitions.flatMap((t) => (t.kind === 'qualified' ? [t] : [])),
      qualifications: result.qualifications,
      measuredAccounts: result.measuredAccounts,
      dataEnd: result.lastEventAt ?? 0,
      summary: {
        events: result.events,
        duplicates: result.duplicates,
        rejected: result.rejected,
        accounts: result.accounts,
        from: iso(result.firstEventAt),
        to: iso(result.lastEventAt),
        traitChanges: result.traitChanges,
        warnings: result.warnings,
      },
      warnings: result.warnings,
    };
  }
  if ('store' in source) return fromStore(await backtestStore(source.store, definitions));
  const store: Store = await openStore({ dataDir: source.dataDir });
  try {
    return fromStore(await backtestStore(store, definitions));
  } finally {
    await store.close();
  }
}

function fromStore(result: StoreBacktestResult): BacktestReplay {
  return {
    pqls: result.qualified,
    qualifications: result.qualifications,
    measuredAccounts: result.measuredAccounts,
    dataEnd: result.lastEventAt ?? 0,
    summary: {
      events: result.events,
      duplicates: 0,
      rejected: 0,
      accounts: result.accounts,
      from: iso(result.firstEventAt),
      to: iso(result.lastEventAt),
      traitChanges: result.traitChanges,
      warnings: [],
    },
    warnings: [],
  };
}

/** The measures of a replay: the set together and each definition alone, in the order given. */
export function replayMeasures(
  run: BacktestReplay,
  definitions: readonly Definition[],
  conversionDays: number,
): DefinitionSetMeasures {
  return definitionSetMeasures(
    run.measuredAccounts,
    run.qualifications,
    run.dataEnd,
    definitions.map((d) => d.id),
    { conversionDays },
  );
}

/** PQLs per definition, in the order given. */
export function pqlsByDefinition(
  run: BacktestReplay,
  definitions: readonly Definition[],
): { definitionId: string; pqls: number }[] {
  return definitions.map((d) => ({
    definitionId: d.id,
    pqls: run.pqls.filter((p) => p.definitionId === d.id).length,
  }));
}

/**
 * The JSON of `pql backtest --json` (and `GET /api/analysis/backtest`): `{ pqls, summary, measures }`,
 * plus `baseline` with its own measures when one was replayed.
 */
export function backtestJson(
  run: BacktestReplay,
  definitions: readonly Definition[],
  measures: DefinitionSetMeasures,
  baseline?: {
    readonly run: BacktestReplay;
    readonly definitions: readonly Definition[];
    readonly measures: DefinitionSetMeasures;
  },
): Record<string, unknown> {
  return {
    pqls: run.pqls.map(pqlJson),
    summary: { ...run.summary, byDefinition: pqlsByDefinition(run, definitions) },
    measures,
    ...(baseline === undefined
      ? {}
      : {
          baseline: {
            definitions: baseline.definitions.map((d) => ({ id: d.id, name: d.name })),
            summary: { byDefinition: pqlsByDefinition(baseline.run, baseline.definitions) },
            measures: baseline.measures,
          },
        }),
  };
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}
