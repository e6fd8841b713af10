import { BillingLedger } from '../../core/sources/billing-ledger.js';
import type { FileReport } from '../import-workspace.js';
import { createFileReport, rejectLine } from '../crm/csv-rows.js';
import { readLines } from '../read-lines.js';

/** The billing ledger built from a Stripe events file, with its report. */
export interface StripeEventsFile {
  readonly ledger: BillingLedger;
  readonly report: FileReport;
  /** Events of types the ledger does not handle, by type (acknowledged, not errors). */
  readonly unhandled: Readonly<Record<string, number>>;
  /** Events older than a state already seen for their object (kept for history only). */
  readonly stale: number;
}

/**
 * Reads `billing/stripe-events.ndjson` (one Stripe Event object a line, any order) into a BillingLedger.
 * Repeated event ids are duplicates; unhandled types are counted; bad lines are rejected with their line.
 */
export async function readStripeEvents(
  path: string,
  ledger = new BillingLedger(),
): Promise<StripeEventsFile> {
  const report = createFileReport(path);
  const unhandled: Record<string, number> = {};
  let stale = 0;
  for await (const chunk of readLines(path)) {
    chunk.lines.forEach((line, i) => {
      const lineNumber = chunk.firstLineNumber + i;
      report.linesRead++;
      if (line.trim() === '') return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch (error) {
        rejectLine(
          report,
          'invalid_json',
          lineNumber,
          error instanceof Error ? error.message : String(error),
        );
        return;
      }
      const result = ledger.apply(parsed);
      switch (result.kind) {
        case 'applied':
          report.accepted++;
          if (result.stale) stale++;
          break;
        case 'duplicate':
          report.duplicates++;
          break;
        case 'unhandled':
          report.accepted++;
          unhandled[result.type] = (unhandled[result.type] ?? 0) + 1;
          break;
        case 'invalid':
          rejectLine(report, result.code, lineNumber, result.message);
          break;
      }
    });
  }
  return { ledger, report, unhandled, stale };
}
