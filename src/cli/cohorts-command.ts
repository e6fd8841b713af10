import type { Command } from 'commander';
import type { CohortGrain, CohortRow, CohortTiming } from '../core/analysis/cohort-mrr.js';
import type { LoadedDefinition } from '../config/definition-files.js';
import { cohortAnalysis, type CohortAnalysis } from '../runtime/cohort-analysis.js';
import { AnalysisInputError } from '../runtime/load-analysis-data.js';
import { analysisSourceOf, pct, printTable, type AnalysisDataFlags } from './backtest-command.js';
import { startProgress } from './progress.js';

/** Where the CLI writes (the same shape as main.ts's CliIo). */
interface Io {
  out(line: string): void;
  err(line: string): void;
}

interface CohortsFlags extends AnalysisDataFlags {
  readonly by?: string;
  readonly json?: boolean;
  readonly csv?: boolean;
  readonly split?: string;
  readonly definitions?: string;
}

/** Periods shown per row in the text table (JSON and CSV have them all). */
const SHOWN_PERIODS = 12;

/**
 * Adds `pql cohorts --data DIR | --data-dir D [--by week|month] [--json|--csv] [--split definition]`: the
 * sign-up cohort MRR view (conversion, MRR and MRR retention per period since sign-up).
 */
export function registerCohortsCommand(
  program: Command,
  io: Io,
  loadDefinitions: (path: string | undefined) => Promise<readonly LoadedDefinition[]>,
): void {
  program
    .command('cohorts')
    .description(
      'sign-up cohorts x periods since sign-up: accounts, cumulative conversion, MRR and MRR retention; optionally split by qualifying definition',
    )
    .option('--data <dir>', 'workspace export directory')
    .option('--data-dir <dir>', 'store directory (the SQLite store of an import or a running instance)')
    .option('--by <grain>', 'cohort and period grain: week or month (default month)')
    .option('--split <what>', 'split by "definition": which definition qualified the account (replays them)')
    .option(
      '--definitions <path>',
      'definitions for --split (default: PQL_DEFINITIONS, ./definitions or the examples)',
    )
    .option('--json', 'print { by, cohorts, splits, timeToPql, timeToPaid } as JSON')
    .option('--csv', 'print one CSV row per cohort and period')
    .action(async (flags: CohortsFlags) => {
      const by = grainOf(flags.by);
      if (flags.split !== undefined && flags.split !== 'definition')
        throw new AnalysisInputError(`--split: expected "definition", got "${flags.split}"`);
      if (flags.json === true && flags.csv === true)
        throw new AnalysisInputError('give either --json or --csv, not both');
      const split = flags.split === 'definition';
      const definitions = split ? await loadDefinitions(flags.definitions) : [];
      const source = analysisSourceOf(flags);
      const quiet = flags.json === true || flags.csv === true;
      const reading = startProgress('reading events', 0, !quiet);
      const replaying = split ? startProgress('replaying events', 0, !quiet) : undefined;
      const report = await cohortAnalysis(source, {
        by,
        split,
        definitions: definitions.map((l) => l.definition),
        onProgress: (stage, done, total) => (stage === 'reading' ? reading : replaying)?.update(done, total),
      });
      reading.stop();
      replaying?.stop();
      const { load, ...view } = report;
      if (flags.json === true) {
        io.out(JSON.stringify(view, null, 2));
        return;
      }
      if (flags.csv === true) {
        for (const line of cohortCsv(view)) io.out(line);
        return;
      }
      for (const warning of load.warnings) io.err(`warning: ${warning}`);
      printCohorts(io, view);
    });
}

function grainOf(value: string | undefined): CohortGrain {
  if (value === undefined) return 'month';
  if (value === 'week' || value === 'month') return value;
  throw new AnalysisInputError(`--by: expected week or month, got "${value}"`);
}

/** The cohort grid as CSV: one row per (split, cohort, period); split is empty for all accounts. */
export function cohortCsv(view: CohortAnalysis): string[] {
  const lines = ['split,cohort,accounts,period,converted,converted_share,mrr,mrr_retention'];
  const rows = (split: string, cohorts: readonly CohortRow[]): void => {
    for (const c of cohorts)
      for (const p of c.periods)
        lines.push(
          [
            csvField(split),
            c.cohort,
            c.accounts,
            p.period,
            p.converted,
            round(p.convertedShare, 4),
            p.mrr,
            p.mrrRetention === null ? '' : round(p.mrrRetention, 4),
          ].join(','),
        );
  };
  rows('', view.cohorts);
  for (const s of view.splits ?? []) rows(s.definitionId, s.cohorts);
  return lines;
}

function csvField(value: string): string {
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function label(by: CohortGrain, cohort: string): string {
  return by === 'month' ? cohort.slice(0, 7) : cohort;
}

function grid(
  io: Io,
  view: CohortAnalysis,
  cohorts: readonly CohortRow[],
  cell: (p: CohortRow['periods'][number]) => string,
): void {
  const width = Math.min(SHOWN_PERIODS, Math.max(0, ...cohorts.map((c) => c.periods.length)));
  const prefix = view.by === 'month' ? 'm' : 'w';
  printTable(io, [
    ['cohort', 'accounts', ...Array.from({ length: width }, (_, k) => `${prefix}${k}`)],
    ...cohorts.map((c) => [
      label(view.by, c.cohort),
      String(c.accounts),
      ...c.periods.slice(0, width).map(cell),
    ]),
  ]);
}

function money(value: number): string {
  return value >= 10_000 ? `${Math.round(value / 1000)}k` : String(Math.round(value));
}

function timingText(t: CohortTiming | undefined): string {
  if (t === undefined || t.medianDays === null) return '-';
  return `${t.medianDays.toFixed(1)} d (${t.accounts})`;
}

/** Prints the cohort view as readable tables: conversion, MRR, MRR retention, time to PQL and to paid. */
export function printCohorts(io: Io, view: CohortAnalysis): void {
  const grain = view.by === 'month' ? 'month' : 'week (Monday, UTC)';
  io.out(
    `Sign-up cohorts by ${grain}; periods since sign-up that ended by the data's end (${view.dataEnd ?? 'no data'})`,
  );
  if (view.cohorts.length === 0) {
    io.out('  no accounts');
    return;
  }
  const longest = Math.max(...view.cohorts.map((c) => c.periods.length));
  if (longest > SHOWN_PERIODS)
    io.out(`  (first ${SHOWN_PERIODS} of ${longest} periods shown; --json or --csv for all)`);
  io.out('');
  io.out('Converted (cumulative share of the cohort):');
  grid(io, view, view.cohorts, (p) => pct(p.convertedShare));
  io.out('');
  io.out('MRR at period end:');
  grid(io, view, view.cohorts, (p) => money(p.mrr));
  io.out('');
  io.out('MRR retention (against the first period with MRR):');
  grid(io, view, view.cohorts, (p) => (p.mrrRetention === null ? '-' : pct(p.mrrRetention)));
  io.out('');
  io.out('Median days from sign-up (how many):');
  const paid = new Map(view.timeToPaid.filter((t) => t.definitionId === null).map((t) => [t.cohort, t]));
  const pql = new Map(view.timeToPql.filter((t) => t.definitionId === null).map((t) => [t.cohort, t]));
  printTable(io, [
    ['cohort', 'to paid', ...(view.timeToPql.length > 0 ? ['to PQL'] : [])],
    ...view.cohorts.map((c) => [
      label(view.by, c.cohort),
      timingText(paid.get(c.cohort)),
      ...(view.timeToPql.length > 0 ? [timingText(pql.get(c.cohort))] : []),
    ]),
  ]);
  for (const s of view.splits ?? []) {
    io.out('');
    io.out(`Qualified by ${s.definitionId}: converted (cumulative share)`);
    grid(io, view, s.cohorts, (p) => pct(p.convertedShare));
    const toPql = new Map(
      view.timeToPql.filter((t) => t.definitionId === s.definitionId).map((t) => [t.cohort, t]),
    );
    const toPaid = new Map(
      view.timeToPaid.filter((t) => t.definitionId === s.definitionId).map((t) => [t.cohort, t]),
    );
    io.out(`  median days from sign-up, ${s.definitionId}:`);
    printTable(io, [
      ['cohort', 'to PQL', 'to paid'],
      ...s.cohorts.map((c) => [
        label(view.by, c.cohort),
        timingText(toPql.get(c.cohort)),
        timingText(toPaid.get(c.cohort)),
      ]),
    ]);
  }
}
