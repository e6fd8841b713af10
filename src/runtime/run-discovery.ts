import { stringify } from 'yaml';
import {
  discoverSignals,
  funnelsFromDefinitions,
  type DiscoveryOptions,
  type DiscoveryReport,
} from '../core/analysis/discover-signals.js';
import type { Definition } from '../core/definitions/definition.js';
import {
  loadAnalysisData,
  type AnalysisLoadStats,
  type AnalysisSource,
  type ExportReader,
} from './load-analysis-data.js';

/** Options of a discovery run: the horizon and test options, plus definitions whose funnels are tested. */
export interface DiscoveryRunOptions extends Omit<DiscoveryOptions, 'funnels'> {
  /** Definitions whose funnels become candidates (e.g. the live ones, or `--definitions`). */
  readonly definitions?: readonly Definition[];
  readonly onProgress?: (done: number, total: number) => void;
  /** How an export's events are read (default `auto`: DuckDB when installed, see `loadAnalysisData`). */
  readonly reader?: ExportReader;
}

/** A discovery report with what loading counted and the suggested definition as YAML. */
export interface DiscoveryRun {
  readonly report: DiscoveryReport;
  readonly load: AnalysisLoadStats;
  /** The suggested definition as a ready-to-save YAML file, when a predictor was found. */
  readonly definitionYaml: string | undefined;
}

/** Loads an export or a store and runs signal discovery on it (what `pql discover` and the API share). */
export async function runDiscovery(
  source: AnalysisSource,
  options: DiscoveryRunOptions = {},
): Promise<DiscoveryRun> {
  const { definitions, onProgress, reader, ...discovery } = options;
  const data = await loadAnalysisData(source, {
    ...(discovery.behaviourDays === undefined ? {} : { behaviourDays: discovery.behaviourDays }),
    ...(onProgress === undefined ? {} : { onProgress }),
    ...(reader === undefined ? {} : { reader }),
  });
  const report = discoverSignals(data, {
    ...discovery,
    funnels: funnelsFromDefinitions(definitions ?? []),
  });
  return { report, load: data.load, definitionYaml: definitionYaml(report) };
}

/** The JSON of a discovery run: the report's fields (named arrays), `load` and `definitionYaml`. */
export function discoveryJson(run: DiscoveryRun): Record<string, unknown> {
  return {
    ...run.report,
    horizon: { ...run.report.horizon, dataEndIso: new Date(run.report.horizon.dataEnd).toISOString() },
    load: run.load,
    ...(run.definitionYaml === undefined ? {} : { definitionYaml: run.definitionYaml }),
  };
}

function definitionYaml(report: DiscoveryReport): string | undefined {
  const definition = report.suggestedDefinition;
  if (definition === undefined) return undefined;
  const top = report.predictors[0];
  const header = [
    '# Suggested by `pql discover`; review it, then save it next to your definitions and run `pql validate`.',
    `# Horizon: behaviour in the first ${report.horizon.behaviourDays} days, conversion within ${report.horizon.conversionDays};`,
    `# ${report.population.observed} accounts observed (${report.population.tooYoung} too young), base rate ${pct(report.population.baseRate)}.`,
    ...(top === undefined
      ? []
      : [`# Top predictor: ${top.label} (lift ${fixed(top.lift)}, q ${top.qValue.toExponential(1)}).`]),
  ];
  return `${header.join('\n')}\n${stringify(definition, { lineWidth: 0 })}`;
}

function pct(x: number | undefined): string {
  return x === undefined ? '-' : `${(x * 100).toFixed(1)}%`;
}

function fixed(x: number | undefined): string {
  return x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(2) : '∞';
}
