import { createReadStream } from 'node:fs';
import { parse } from 'csv-parse';
import type { FileReport } from '../import-workspace.js';

/** Line numbers kept per reject reason in a report. */
const EXAMPLE_LINES = 10;

/** A source file that cannot be imported at all (a required column is missing): the CLI exits 2. */
export class SourceFileError extends Error {
  override readonly name = 'SourceFileError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

/** One data row of a CSV file by column name, with the line it ends on. */
export interface CsvRow {
  readonly line: number;
  readonly fields: Readonly<Record<string, string>>;
}

/** A fresh per-file report. */
export function createFileReport(file: string): FileReport {
  return {
    file,
    linesRead: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    rejectedByReason: {},
    skipped: undefined,
    rejectsFile: undefined,
  };
}

/** Counts a rejected line under `code`, keeping the first line numbers and one example message. */
export function rejectLine(report: FileReport, code: string, line: number, message: string): void {
  report.rejected++;
  const reason = (report.rejectedByReason[code] ??= { count: 0, lines: [], example: '' });
  reason.count++;
  if (reason.lines.length < EXAMPLE_LINES) reason.lines.push(line);
  if (reason.example === '') reason.example = `line ${line}: ${message}`;
}

/**
 * Streams a CSV file's data rows by header name (csv-parse, RFC 4180 quoting). A missing required column
 * throws SourceFileError naming it; unknown columns are ignored with a warning; a malformed row (bad
 * quoting, wrong number of fields) is counted in `report` with its line and the rest goes on.
 */
export async function* readCsvRows(
  path: string,
  columns: { readonly required: readonly string[]; readonly optional: readonly string[] },
  report: FileReport,
  warnings: string[],
): AsyncGenerator<CsvRow> {
  const parser = createReadStream(path).pipe(
    parse({
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
      skip_records_with_error: true,
      on_skip: (error) => {
        const line = typeof error?.['lines'] === 'number' ? error['lines'] : 0;
        report.linesRead = Math.max(report.linesRead, line);
        rejectLine(report, 'malformed_csv', line, error?.message ?? 'malformed CSV');
        return undefined;
      },
    }),
  );
  let header: string[] | undefined;
  for await (const item of parser as AsyncIterable<{ info: { lines: number }; record: string[] }>) {
    const { record, info } = item;
    if (header === undefined) {
      report.linesRead = info.lines;
      header = record.map((name) => name.trim().toLowerCase());
      const missing = columns.required.filter((c) => !header?.includes(c));
      if (missing.length > 0)
        throw new SourceFileError(
          path,
          `missing required column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')} in the header (expected ${columns.required.join(',')})`,
        );
      const known = new Set([...columns.required, ...columns.optional]);
      const unknown = header.filter((c) => !known.has(c));
      if (unknown.length > 0)
        warnings.push(
          `${path}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ignored`,
        );
      continue;
    }
    report.linesRead = Math.max(report.linesRead, info.lines);
    if (record.length !== header.length) {
      rejectLine(
        report,
        'column_count',
        info.lines,
        `expected ${header.length} fields, got ${record.length}`,
      );
      continue;
    }
    const fields: Record<string, string> = {};
    header.forEach((name, i) => {
      fields[name] = (record[i] as string).trim();
    });
    yield { line: info.lines, fields };
  }
  if (header === undefined) throw new SourceFileError(path, 'empty file: expected a header row');
}
