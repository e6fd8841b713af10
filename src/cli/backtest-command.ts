import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { BacktestMeasures, ConversionRate } from '../core/analysis/backtest-measures.js';
import type { Definition } from '../core/definitions/definition.js';
import type { LoadedDefinition } from '../config/definition-files.js';
import {
  backtestJson,
  replayDefinitions,
  replayMeasures,
  type BacktestReplay,
} from '../runtime/backtest-report.js';
import { AnalysisInputError, type AnalysisSource } from '../runtime/load-analysis-data.js';
import { formatExplanation, iso } from './format-pql.js';
import { startProgress } from './progress.js';

/** Where the CLI writes (the same shape as main.ts's CliIo). */
interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** `--data DIR` (a workspace export) or `--data-dir D` (a store), exactly one. */
export type AnalysisDataFlags = { readonly data?: string; readonly dataDir?: string };

/** The workspace export or store directory the flags name; an AnalysisInputError unless exactly one is given. */
export function analysisSourceOf(
  flags: AnalysisDataFlags,
): { readonly exportDir: string } | { readonly dataDir: string } {
  if (flags.data !== undefined && flags.dataDir !== undefined)
    throw new AnalysisInputError(
      'give either --data DIR (a workspace export) or --data-dir D (a store), not both',
    );
  if (flags.data !== undefined) {
    if (!existsSync(join(flags.data, 'events.ndjson')))
      throw new AnalysisInputError(`${flags.data}: no events.ndjson in it (not a workspace export)`);
    return { exportDir: flags.data };
  }
  if (flags.dataDir !== undefined) {
    if (!existsSync(join(flags.dataDir, 'pql.sqlite')))
      throw new AnalysisInputError(`${flags.dataDir}: no pql.sqlite in it (not a data directory)`);
    return { dataDir: flags.dataDir };
  }
  throw new AnalysisInputError('expected --data DIR (a workspace export) or --data-dir D (a store)');
}

/** Parses a positive number of days flag; an AnalysisInputError otherwise. */
export function daysFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const days = Number(value);
  if (!Number.isFinite(days) || days <= 0)
    throw new AnalysisInputError(`${name}: expected a number of days > 0, got "${value}"`);
  return days;
}

interface BacktestFlags extends AnalysisDataFlags {
  readonly definitions: string;
  readonly json?: boolean;
  readonly baseline?: string;
  readonly byCohort?: boolean;
  readonly conversionDays?: string;
}

/**
 * Adds `pql backtest --definitions PATH --data DIR | --data-dir D [--baseline OTHER] [--by-cohort]
 * [--conversion-days N] [--json]`: the PQLs a definition set would have produced, with its measures.
 */
export function registerBacktestCommand(
  program: Command,
  io: Io,
  loadDefinitions: (path: string) => Promise<readonly LoadedDefinition[]>,
): void {
  program
    .command('backtest')
    .description(
      'replay history through definitions: the PQLs they would have produced, their conversion against non-PQLs and MQLs, precision, recall and lead time',
    )
    .requiredOption('--definitions <path>', 'definition file or folder')
    .option('--data <dir>', 'workspace export directory')
    .option('--data-dir <dir>', 'store directory (the SQLite store of an import or a running instance)')
    .option('--baseline <path>', 'another definition file or folder, measured side by side')
    .option('--by-cohort', 'show PQL conversion per sign-up month (drift)')
    .option('--conversion-days <n>', 'a PQL is a hit when the account pays within N days of it (default 90)')
    .option('--json', 'print { pqls, summary, measures[, baseline] } as JSON')
    .action(async (flags: BacktestFlags) => {
      const json = flags.json === true;
      const conversionDays = daysFlag('--conversion-days', flags.conversionDays, 90);
      const loaded = await loadDefinitions(flags.definitions);
      const baselineLoaded = flags.baseline === undefined ? undefined : await loadDefinitions(flags.baseline);
      const source = analysisSourceOf(flags);
      const definitions = loaded.map((l) => l.definition);
      const run = await replayWithProgress(source, definitions, !json);
      const measures = replayMeasures(run, definitions, conversionDays);
      let baseline: Parameters<typeof backtestJson>[3];
      if (baselineLoaded !== undefined) {
        const baselineDefinitions = baselineLoaded.map((l) => l.definition);
        const baselineRun = await replayWithProgress(source, baselineDefinitions, !json);
        baseline = {
          run: baselineRun,
          definitions: baselineDefinitions,
          measures: replayMeasures(baselineRun, baselineDefinitions, conversionDays),
        };
      }
      if (json) {
        io.out(JSON.stringify(backtestJson(run, definitions, measures, baseline), null, 2));
        return;
      }
      for (const warning of run.warnings) io.err(`warning: ${warning}`);
      const s = run.summary;
      io.out(
        `${String(s['events'])} events over ${String(s['accounts'])} accounts (${String(s['rejected'])} rejected lines), ` +
          `${String(s['traitChanges'])} CRM and billing trait changes at their effective times`,
      );
      for (const l of loaded) {
        const mine = run.pqls.filter((p) => p.definitionId === l.definition.id);
        const m = measures.byDefinition.find((x) => x.definitionId === l.definition.id);
        io.out(
          `${l.definition.id}: ${mine.length} PQLs` +
            (m === undefined ? '' : `, precision ${pct(m.precision)}, recall ${pct(m.recall)}`),
        );
        for (const pql of mine.slice(0, 5)) {
          io.out(`  ${pql.accountId} qualified ${iso(pql.qualifiedAt)}`);
          for (const line of formatExplanation(pql.explanation)) io.out(line);
        }
        if (mine.length > 5) io.out(`  ... and ${mine.length - 5} more (use --json for all)`);
      }
      io.out('');
      if (baseline === undefined) printMeasures(io, measures);
      else
        printSideBySide(io, [
          { name: flags.definitions, measures },
          { name: `baseline ${flags.baseline ?? ''}`, measures: baseline.measures },
        ]);
      if (flags.byCohort === true) {
        io.out('');
        printByCohort(io, flags.definitions, measures);
        if (baseline !== undefined) printByCohort(io, `baseline ${flags.baseline ?? ''}`, baseline.measures);
      }
    });
}

async function replayWithProgress(
  source: AnalysisSource,
  definitions: readonly Definition[],
  progress: boolean,
): Promise<BacktestReplay> {
  const bar = startProgress('replaying events', 0, progress);
  try {
    return await replayDefinitions(source, definitions, (done, total) => bar.update(done, total));
  } finally {
    bar.stop();
  }
}

/** A share as a percentage with one decimal, or n/a. */
export function pct(share: number | null | undefined): string {
  return share === null || share === undefined ? 'n/a' : `${(share * 100).toFixed(1)}%`;
}

function rateText(r: ConversionRate): string {
  const ci = r.interval === null ? '' : `, 95% CI ${pct(r.interval[0])}-${pct(r.interval[1])}`;
  const young = r.notYetObservable > 0 ? `; ${r.notYetObservable} not yet observable` : '';
  return `${pct(r.rate)} (${r.converted}/${r.accounts}${ci}${young})`;
}

function ratioText(ratio: number | null, interval: readonly [number, number] | null): string {
  if (ratio === null) return 'n/a';
  return `${ratio.toFixed(2)}x${interval === null ? '' : ` (95% CI ${interval[0].toFixed(2)}-${interval[1].toFixed(2)})`}`;
}

function daysText(days: number | null): string {
  return days === null ? 'n/a' : `${days.toFixed(1)} days`;
}

function perWeekMean(m: BacktestMeasures): number {
  return m.perWeek.length === 0 ? 0 : m.pqls.total / m.perWeek.length;
}

/** Prints the measures of one definition set as text. */
export function printMeasures(io: Io, m: BacktestMeasures): void {
  io.out(
    `measures (a PQL is a hit when the account pays within ${m.conversionDays} days; data ends ${m.dataEnd}):`,
  );
  io.out(
    `  PQLs: ${m.pqls.total} (${m.pqls.accounts} accounts), ${perWeekMean(m).toFixed(1)} a week over ${m.perWeek.length} weeks; ` +
      `${m.pqls.afterConversion} qualified after the account had paid (not hits)`,
  );
  io.out(`  conversion: PQLs ${rateText(m.conversion.pqls)}`);
  io.out(`              non-PQLs ${rateText(m.conversion.nonPqls)} (from sign-up)`);
  io.out(`              MQLs ${rateText(m.conversion.mqls)}`);
  io.out(`              all accounts ${rateText(m.conversion.all)} (from sign-up)`);
  io.out(
    `  PQL/MQL ratio: ${ratioText(m.ratios.pqlToMql.ratio, m.ratios.pqlToMql.interval)} (the seed claims 3-10x); ` +
      `PQL/non-PQL: ${ratioText(m.ratios.pqlToNonPql.ratio, m.ratios.pqlToNonPql.interval)}`,
  );
  io.out(`  precision ${pct(m.precision)}, recall ${pct(m.recall)}, F1 ${pct(m.f1)}`);
  io.out(
    `  lead time to paid: median ${daysText(m.leadTimeDays.median)} (p25 ${daysText(m.leadTimeDays.p25)}, ` +
      `p75 ${daysText(m.leadTimeDays.p75)}) over ${m.leadTimeDays.accounts} converters caught`,
  );
  const c = m.converters;
  io.out(
    `  converters: ${c.total}: ${c.caught} caught, ${c.flaggedAfterConversion} flagged only after paying, ` +
      `${c.flaggedTooEarly} flagged more than ${m.conversionDays} days before paying, ${c.neverFlagged} never flagged`,
  );
  if (c.neverFlaggedExamples.length > 0)
    io.out(
      `    never flagged, e.g. ${c.neverFlaggedExamples
        .slice(0, 5)
        .map((e) => `${e.accountId} (paid ${e.convertedAt.slice(0, 10)})`)
        .join(', ')}`,
    );
  if (m.perRep.length > 0)
    io.out(
      `  per rep: ${m.perRep
        .slice(0, 8)
        .map((r) => `${r.owner ?? '(no owner)'} ${r.pqls} (${r.converted}/${r.observable} converted)`)
        .join(', ')}${m.perRep.length > 8 ? ', ...' : ''}`,
    );
}

/** Prints the key measures of two (or more) definition sets in columns. */
export function printSideBySide(io: Io, sets: readonly { name: string; measures: BacktestMeasures }[]): void {
  const rows: [string, (m: BacktestMeasures) => string][] = [
    ['PQLs (accounts)', (m) => `${m.pqls.total} (${m.pqls.accounts})`],
    ['PQLs a week', (m) => perWeekMean(m).toFixed(1)],
    ['PQL conversion', (m) => `${pct(m.conversion.pqls.rate)} of ${m.conversion.pqls.accounts}`],
    ['non-PQL conversion', (m) => pct(m.conversion.nonPqls.rate)],
    ['MQL conversion', (m) => pct(m.conversion.mqls.rate)],
    [
      'PQL/MQL ratio',
      (m) => (m.ratios.pqlToMql.ratio === null ? 'n/a' : `${m.ratios.pqlToMql.ratio.toFixed(2)}x`),
    ],
    ['precision', (m) => pct(m.precision)],
    ['recall', (m) => pct(m.recall)],
    ['F1', (m) => pct(m.f1)],
    ['median lead time', (m) => daysText(m.leadTimeDays.median)],
    ['converters caught', (m) => `${m.converters.caught} of ${m.converters.total}`],
    ['never flagged', (m) => String(m.converters.neverFlagged)],
    ['flagged after paying', (m) => String(m.pqls.afterConversion)],
    [
      'drift (later - earlier)',
      (m) => (m.drift.change === null ? 'n/a' : `${(m.drift.change * 100).toFixed(1)} pts`),
    ],
  ];
  const table = [
    ['', ...sets.map((s) => s.name)],
    ...rows.map(([label, f]) => [label, ...sets.map((s) => f(s.measures))]),
  ];
  printTable(io, table);
}

/** Prints PQL conversion per sign-up cohort and the drift test. */
export function printByCohort(io: Io, name: string, m: BacktestMeasures): void {
  io.out(`PQL conversion by sign-up month (${name}):`);
  printTable(io, [
    ['cohort', 'accounts', 'PQLs', 'observable', 'converted', 'conversion'],
    ...m.byCohort.map((c) => [
      c.cohort.slice(0, 7),
      String(c.accounts),
      String(c.pqls),
      String(c.conversion.accounts),
      String(c.conversion.converted),
      pct(c.conversion.rate),
    ]),
  ]);
  const d = m.drift;
  io.out(
    `  earlier half of the PQLs ${pct(d.earlier.rate)} (${d.earlier.converted}/${d.earlier.accounts}), ` +
      `later half ${pct(d.later.rate)} (${d.later.converted}/${d.later.accounts}), ` +
      `Fisher p = ${d.pValue === null ? 'n/a' : d.pValue.toPrecision(2)}` +
      (d.change !== null && d.change < 0 && d.pValue !== null && d.pValue < 0.05
        ? ': conversion is falling'
        : ''),
  );
}

/** Prints rows as left-aligned columns (first row a header). */
export function printTable(io: Io, rows: readonly (readonly string[])[]): void {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  for (const row of rows)
    io.out(
      `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')}`.trimEnd(),
    );
}
