import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { formatDefinitionFileProblem, loadDefinitionsFromPath } from '../config/definition-files.js';
import type { CandidateResult, DiscoveryReport } from '../core/analysis/discover-signals.js';
import type { Definition } from '../core/definitions/definition.js';
import type { AnalysisSource, ExportReader } from '../runtime/load-analysis-data.js';
import { AnalysisInputError } from '../runtime/load-analysis-data.js';
import { discoveryJson, runDiscovery, type DiscoveryRun } from '../runtime/run-discovery.js';
import { startProgress } from './progress.js';

/** Where the CLI writes (the same shape as main.ts's CliIo). */
interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** Flags of `pql discover`. */
interface DiscoverFlags {
  readonly data?: string;
  readonly dataDir?: string;
  readonly json?: boolean;
  readonly behaviourDays?: string;
  readonly conversionDays?: string;
  readonly writeDefinition?: string;
  readonly definitions?: string;
  readonly reader?: string;
}

/** Rows of the ranked table in the text report (the JSON has every candidate). */
const TABLE_ROWS = 15;

/**
 * Adds `pql discover --data DIR | --data-dir D [--json] [--behaviour-days N] [--conversion-days N]
 * [--definitions PATH] [--write-definition PATH] [--reader auto|duckdb|node]`: signal discovery over a workspace export or a store.
 */
export function registerDiscoverCommand(program: Command, io: Io, fail: (message: string) => never): void {
  program
    .command('discover')
    .description(
      'find the behaviours that predicted conversion (ranked, with Benjamini-Hochberg-corrected significance), threshold advice, composites and a ready-to-save definition',
    )
    .option('--data <dir>', 'workspace export directory')
    .option('--data-dir <dir>', 'store directory of an imported or running instance')
    .option('--json', 'print { candidates, predictors, thresholds, composites, ... } as JSON')
    .option('--behaviour-days <n>', 'days of behaviour after sign-up that count (default 30)')
    .option(
      '--conversion-days <n>',
      'days after sign-up within which paying counts as converting (default 90)',
    )
    .option('--definitions <path>', 'definition file or folder whose funnels are tested too')
    .option('--write-definition <path>', 'write the suggested definition (YAML) to this file')
    .option(
      '--reader <reader>',
      'how an export is read: auto (DuckDB when installed, else node), duckdb or node',
      'auto',
    )
    .action(async (flags: DiscoverFlags) => {
      const source = sourceOf(flags, fail);
      const reader = readerOf(flags.reader, fail);
      const behaviourDays = days(flags.behaviourDays, '--behaviour-days', fail);
      const conversionDays = days(flags.conversionDays, '--conversion-days', fail);
      if ((conversionDays ?? 90) < (behaviourDays ?? 30))
        fail(`--conversion-days: expected at least the behaviour days (${behaviourDays ?? 30}), got ${conversionDays ?? 90}`); // prettier-ignore
      const definitions = flags.definitions === undefined ? [] : await loadFunnelDefinitions(flags.definitions, fail); // prettier-ignore
      const json = flags.json === true;
      const bar = startProgress('reading events', 0, !json);
      let run: DiscoveryRun;
      try {
        run = await runDiscovery(source, {
          ...(behaviourDays === undefined ? {} : { behaviourDays }),
          ...(conversionDays === undefined ? {} : { conversionDays }),
          definitions,
          reader,
          onProgress: (done, total) => bar.update(done, total),
        });
      } catch (error) {
        if (error instanceof AnalysisInputError) fail(error.message);
        throw error;
      } finally {
        bar.stop();
      }
      if (flags.writeDefinition !== undefined) {
        if (run.definitionYaml === undefined)
          io.err('pql: no predictor was found, so no definition was written');
        else await writeFile(flags.writeDefinition, run.definitionYaml);
      }
      if (json) {
        io.out(JSON.stringify(discoveryJson(run), null, 2));
        return;
      }
      printDiscovery(io, run);
      if (flags.writeDefinition !== undefined && run.definitionYaml !== undefined)
        io.out(`definition written to ${flags.writeDefinition} (check it with: pql validate ${flags.writeDefinition})`); // prettier-ignore
    });
}

function sourceOf(flags: DiscoverFlags, fail: (message: string) => never): AnalysisSource {
  if (flags.data !== undefined && flags.dataDir !== undefined)
    fail('give either --data DIR (a workspace export) or --data-dir D (a store), not both');
  if (flags.data !== undefined) return { exportDir: flags.data };
  if (flags.dataDir !== undefined) return { dataDir: flags.dataDir };
  return fail('give --data DIR (a workspace export) or --data-dir D (a store)');
}

function readerOf(value: string | undefined, fail: (message: string) => never): ExportReader {
  if (value === undefined || value === 'auto' || value === 'duckdb' || value === 'node')
    return value ?? 'auto';
  return fail(`--reader: expected auto, duckdb or node, got "${value}"`);
}

function days(value: string | undefined, flag: string, fail: (message: string) => never): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650) fail(`${flag}: expected a whole number of days >= 1, got "${value}"`); // prettier-ignore
  return n;
}

async function loadFunnelDefinitions(path: string, fail: (message: string) => never): Promise<Definition[]> {
  const loaded = await loadDefinitionsFromPath(path);
  if (!loaded.ok) fail(loaded.problems.map(formatDefinitionFileProblem).join('\n'));
  return loaded.definitions.map((d) => d.definition);
}

const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | undefined, digits = 2): string =>
  x === undefined ? '-' : Number.isFinite(x) ? x.toFixed(digits) : '∞';

/** Prints the discovery report as text: horizon and population, verdict, ranked table, advice, composites. */
export function printDiscovery(io: Io, run: DiscoveryRun): void {
  const r: DiscoveryReport = run.report;
  const p = r.population;
  for (const warning of run.load.warnings) io.err(`warning: ${warning}`);
  io.out(
    `${run.load.events} events, ${p.accounts} accounts; horizon: behaviour in the first ${r.horizon.behaviourDays} days ` +
      `(counted only up to ${r.horizon.minLeadHours} h before paying), conversion within ${r.horizon.conversionDays} days`,
  );
  io.out(
    `${p.observed} accounts observed for the whole horizon (${p.tooYoung} too young, left out), ${p.converted} converted ` +
      `(base rate ${pct(p.baseRate)}), ${num(p.signupsPerWeek, 1)} sign-ups a week`,
  );
  io.out(
    `${r.tested} candidates tested (${r.untested} too rare or too common, ${r.redundant} same accounts as a simpler one)`,
  );
  io.out('');
  io.out(r.verdict);
  const rows = (r.predictors.length > 0 ? r.predictors : r.candidates).slice(0, TABLE_ROWS);
  if (rows.length > 0) {
    io.out('');
    if (r.predictors.length === 0) io.out('closest candidates (none significant):');
    printTable(io, rows);
    const more = (r.predictors.length > 0 ? r.predictors.length : r.candidates.length) - rows.length;
    if (more > 0) io.out(`... and ${more} more (use --json for all)`);
  }
  if (r.thresholds.length > 0) {
    io.out('');
    io.out(`threshold advice (bar: conversion ${pct(r.thresholds[0]?.bar)}):`);
    for (const t of r.thresholds) {
      const a = t.advised;
      io.out(
        a === undefined
          ? `  ${t.signal}: no threshold reaches the bar (best ${pct(Math.max(...t.ladder.map((x) => x.conversion)))})`
          : `  ${t.signal} >= ${a.threshold}: ${pct(a.conversion)} convert (${a.accounts} accounts), ~${num(a.pqlsPerWeek, 1)} PQLs a week`,
      );
    }
  }
  if (r.composites.length > 0) {
    io.out('');
    io.out('composites (all of; exploratory, p not corrected):');
    for (const c of r.composites)
      io.out(
        `  ${c.label}: ${c.accounts} accounts, precision ${pct(c.precision)}, recall ${pct(c.recall)}, ~${num(c.pqlsPerWeek, 1)} PQLs a week`,
      );
  }
  if (run.definitionYaml !== undefined) {
    io.out('');
    io.out('suggested definition (save with --write-definition PATH):');
    for (const line of run.definitionYaml.trimEnd().split('\n')) io.out(`  ${line}`);
  }
}

function printTable(io: Io, rows: readonly CandidateResult[]): void {
  const header = ['#', 'behaviour', 'accounts', 'conv with', 'without', 'lift [95% CI]', 'precision', 'recall', 'F1', 'lead d', 'q']; // prettier-ignore
  const body = rows.map((c, i) => [
    String(i + 1),
    c.label.length > 70 ? `${c.label.slice(0, 69)}…` : c.label,
    String(c.accounts),
    pct(c.conversionWith),
    pct(c.conversionWithout),
    `${num(c.lift)} [${num(c.liftInterval?.[0])}, ${num(c.liftInterval?.[1])}]`,
    pct(c.precision),
    pct(c.recall),
    num(c.f1),
    num(c.medianLeadDays, 1),
    c.qValue < 0.001 ? c.qValue.toExponential(1) : c.qValue.toFixed(3),
  ]);
  const widths = header.map((h, col) =>
    Math.max(h.length, ...body.map((row) => (row[col] as string).length)),
  );
  const line = (cells: readonly string[]): string =>
    cells.map((cell, col) => (col === 1 ? cell.padEnd(widths[col] as number) : cell.padStart(widths[col] as number))).join('  '); // prettier-ignore
  io.out(line(header));
  for (const row of body) io.out(line(row));
}
