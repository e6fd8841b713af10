import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { JoinCounts, JoinReport } from '../core/sources/join-resolver.js';
import { SourceFileError } from '../sources/crm/csv-rows.js';
import { ImportInputError } from '../sources/import-workspace.js';
import { storeJoinKeys } from '../sources/joins/store-join-keys.js';
import { loadWorkspaceSources } from '../sources/joins/workspace-sources.js';
import { LiveSources } from '../sources/live-sources.js';
import { openStore } from '../store/open-store.js';

/** Where the CLI writes (the same shape as main.ts's CliIo). */
interface Io {
  out(line: string): void;
  err(line: string): void;
}

const EXAMPLES = 5;

function countsLine(name: string, counts: JoinCounts, subject: string): string {
  return `${name}: ${counts.subjects} ${subject}: ${counts.matchedById} matched by id, ${counts.matchedByDomain} by domain, ${counts.unmatched} unmatched, ${counts.ambiguous} ambiguous, ${counts.freeMail} free-mail`;
}

/** Prints the join-health counts (also part of `pql import`'s report). */
export function printJoinSummary(io: Io, summary: JoinReport['summary']): void {
  io.out(countsLine('joins, CRM', summary.crm, 'accounts'));
  io.out(countsLine('joins, billing', summary.billing, 'Stripe customers'));
}

/** Prints the whole join-health report as text: counts, then a few examples of each problem. */
export function printJoinReport(io: Io, report: JoinReport, where = 'events.ndjson'): void {
  io.out(`${report.summary.accounts} accounts in ${where}`);
  printJoinSummary(io, report.summary);
  const subject = (x: { accountId: string | undefined; customerId: string | undefined }): string =>
    x.accountId ?? x.customerId ?? '?';
  const section = <T>(title: string, items: readonly T[], line: (item: T) => string): void => {
    if (items.length === 0) return;
    io.out(`${title} (${items.length}):`);
    for (const item of items.slice(0, EXAMPLES)) io.out(`  ${line(item)}`);
    if (items.length > EXAMPLES) io.out(`  ... and ${items.length - EXAMPLES} more (use --json for all)`);
  };
  section('ambiguous', report.ambiguous, (a) => `${a.source} ${subject(a)}: ${a.domain} has ${a.candidates.join(', ')}`); // prettier-ignore
  section('unmatched', report.unmatched, (m) => `${m.source} ${subject(m)}: ${m.message}`);
  section('free-mail (never joined)', report.freeMail, (f) => `${f.source} ${subject(f)}: ${f.domain}`);
  section('matched by domain after an unknown id', report.matched.filter((m) => m.note !== undefined), (m) => `${m.source} ${m.accountId} → ${m.recordId}: ${m.note ?? ''}`); // prettier-ignore
  io.out(`CRM companies joined to no account: ${report.companiesWithoutAccount.length}`);
}

/**
 * Adds `pql joins --data DIR | --data-dir D [--json]`: the join-health report of a workspace export, or of
 * the store and the CRM and Stripe records an imported or running instance keeps in its data directory.
 */
export function registerJoinsCommand(program: Command, io: Io): void {
  program
    .command('joins')
    .description(
      'report how accounts join to CRM companies and Stripe customers (matched, unmatched, ambiguous)',
    )
    .option('--data <dir>', 'workspace export directory')
    .option('--data-dir <dir>', 'store directory of an imported or running instance')
    .option(
      '--json',
      'print { matched, unmatched, ambiguous, freeMail, companiesWithoutAccount, summary } as JSON',
    )
    .action(async (options: { data?: string; dataDir?: string; json?: boolean }) => {
      if ((options.data === undefined) === (options.dataDir === undefined))
        throw new ImportInputError('pql joins: give one of --data DIR (an export) or --data-dir D (a store)');
      const warnings: string[] = [];
      let report: JoinReport;
      if (options.dataDir !== undefined) {
        report = await storeJoinReport(options.dataDir);
      } else {
        const data = options.data as string;
        if (!existsSync(join(data, 'events.ndjson')))
          throw new ImportInputError(`${data}: no events.ndjson in it`);
        try {
          report = (await loadWorkspaceSources(data, warnings, { alwaysScanAccounts: true })).joins.report;
        } catch (error) {
          if (error instanceof SourceFileError) throw new ImportInputError(error.message);
          throw error;
        }
      }
      if (options.json === true) {
        io.out(JSON.stringify({ ...report, warnings }, null, 2));
        return;
      }
      for (const warning of warnings) io.err(`warning: ${warning}`);
      printJoinReport(io, report, options.dataDir === undefined ? 'events.ndjson' : 'the store');
    });
}

/** The join report of a data directory: its store's accounts against the CRM and Stripe records kept there. */
async function storeJoinReport(dataDir: string): Promise<JoinReport> {
  if (!existsSync(join(dataDir, 'pql.sqlite')))
    throw new ImportInputError(`${dataDir}: no pql.sqlite in it (import an export or run pql serve first)`);
  const store = await openStore({ dataDir });
  try {
    const sources = await LiveSources.open(dataDir);
    return sources.joins(await storeJoinKeys(store)).report;
  } finally {
    await store.close();
  }
}
