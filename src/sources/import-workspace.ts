import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseEventLine } from '../core/events/parse-event.js';
import type { ProductEvent, TraitChange } from '../core/events/event.js';
import type { JoinReport } from '../core/sources/join-resolver.js';
import type { Detector } from '../runtime/detector.js';
import { readLines } from './read-lines.js';
import { SourceFileError } from './crm/csv-rows.js';
import { loadWorkspaceSources, saveOwners, SOURCE_FILES } from './joins/workspace-sources.js';
import { LiveSources } from './live-sources.js';

/** Line numbers kept per reject reason in a report (all of them go to the rejects file). */
const EXAMPLE_LINES = 10;

/** What importing one file did. */
export interface FileReport {
  readonly file: string;
  linesRead: number;
  accepted: number;
  duplicates: number;
  rejected: number;
  /** Per reject code: how many, and the first line numbers. */
  readonly rejectedByReason: Record<string, { count: number; lines: number[]; example: string }>;
  /** Set when the file was not imported, with the reason. */
  skipped: string | undefined;
  /** Where rejected lines were written, if any were. */
  rejectsFile: string | undefined;
}

/** What importing a workspace export did. */
export interface ImportReport {
  readonly files: FileReport[];
  readonly warnings: string[];
  pqls: number;
  corrections: number;
  expired: number;
  firstEventAt: number | undefined;
  lastEventAt: number | undefined;
  /** Join-health counts (CRM and billing), when those files were present; `pql joins` has the details. */
  joins: JoinReport['summary'] | undefined;
  /** CRM and billing trait changes applied to joined accounts. */
  traitChanges: number;
  /** Where the CRM owners were saved for routing, if an owners file was imported. */
  ownersFile: string | undefined;
}

/** Options of an import. */
export interface ImportOptions {
  /** Folder where rejected lines are written (`<folder>/events.rejects.ndjson`). */
  readonly rejectsDir: string;
  /** The store's data directory; CRM owners are saved under it as `crm/owners.json`. */
  readonly dataDir?: string;
  readonly batchSize?: number;
  readonly onProgress?: (file: string, bytesRead: number, totalBytes: number) => void;
}

/**
 * Imports a workspace export (DESIGN.md): the CRM and billing files are read and joined first, then
 * events.ndjson is streamed with the CRM/billing trait changes interleaved at their effective times, so
 * every definition sees the traits as they were when each event happened (docs/sources.md). Bad lines are
 * counted by reason with their line numbers (event rejects also go to a rejects file); the rest goes on.
 */
export async function importWorkspace(
  dir: string,
  detector: Detector,
  options: ImportOptions,
): Promise<ImportReport> {
  const report: ImportReport = {
    files: [],
    warnings: [],
    pqls: 0,
    corrections: 0,
    expired: 0,
    firstEventAt: undefined,
    lastEventAt: undefined,
    joins: undefined,
    traitChanges: 0,
    ownersFile: undefined,
  };
  const eventsPath = join(dir, 'events.ndjson');
  if (!existsSync(eventsPath))
    throw new ImportInputError(`${eventsPath}: not found; a workspace export has events.ndjson at its root`);
  let sources: Awaited<ReturnType<typeof loadWorkspaceSources>>;
  try {
    sources = await loadWorkspaceSources(dir, report.warnings);
  } catch (error) {
    if (error instanceof SourceFileError) throw new ImportInputError(error.message);
    throw error;
  }
  if (sources.companies !== undefined) report.files.push(sources.companies.report);
  if (sources.owners !== undefined) {
    report.files.push(sources.owners.report);
    if (options.dataDir !== undefined)
      report.ownersFile = await saveOwners(options.dataDir, sources.owners.owners);
  }
  if (sources.billing !== undefined) report.files.push(sources.billing.report);
  if (options.dataDir !== undefined) await keepSourcesLive(options.dataDir, dir, sources);
  if (sources.companies !== undefined || sources.billing !== undefined)
    report.joins = sources.joins.report.summary;
  report.traitChanges = sources.traitChanges.length;
  report.files.push(await importEventsFile(eventsPath, detector, options, report, sources.traitChanges));
  return report;
}

/** A workspace export that cannot be read at all (missing file): the CLI exits 2. */
export class ImportInputError extends Error {
  override readonly name = 'ImportInputError';
}

async function importEventsFile(
  path: string,
  detector: Detector,
  options: ImportOptions,
  report: ImportReport,
  traitChanges: readonly TraitChange[] = [],
): Promise<FileReport> {
  const batchSize = options.batchSize ?? 2000;
  const file: FileReport = {
    file: path,
    linesRead: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    rejectedByReason: {},
    skipped: undefined,
    rejectsFile: undefined,
  };
  const rejectsPath = join(options.rejectsDir, 'events.rejects.ndjson');
  let rejects: ReturnType<typeof createWriteStream> | undefined;
  let batch: ProductEvent[] = [];
  let bodies: string[] = [];
  let maxTime = Number.NEGATIVE_INFINITY;
  let nextChange = 0;
  const countTransitions = (transitions: readonly { kind: string }[]): void => {
    for (const t of transitions) {
      if (t.kind === 'qualified') report.pqls++;
      else if (t.kind === 'corrected') report.corrections++;
      else report.expired++;
    }
  };
  // CRM/billing changes effective at or before `time`, after the events batched so far (time order).
  const applyChangesUpTo = async (time: number): Promise<void> => {
    let end = nextChange;
    while (end < traitChanges.length && (traitChanges[end] as TraitChange).effectiveAt <= time) end++;
    if (end === nextChange) return;
    await flush();
    countTransitions(await detector.applyTraitChanges(traitChanges.slice(nextChange, end)));
    nextChange = end;
  };

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const result = await detector.ingest(batch, undefined, bodies);
    file.accepted += result.inserted;
    file.duplicates += result.duplicates;
    for (const t of result.transitions) {
      if (t.kind === 'qualified') report.pqls++;
      else if (t.kind === 'corrected') report.corrections++;
      else report.expired++;
    }
    batch = [];
    bodies = [];
  };

  for await (const chunk of readLines(path)) {
    for (let i = 0; i < chunk.lines.length; i++) {
      const line = chunk.lines[i] as string;
      const lineNumber = chunk.firstLineNumber + i;
      file.linesRead++;
      if (line.trim() === '') continue;
      const parsed = parseEventLine(line, lineNumber);
      if (parsed.ok) {
        const event = parsed.value;
        if (nextChange < traitChanges.length) await applyChangesUpTo(event.timestamp);
        batch.push(event);
        bodies.push(line);
        if (event.timestamp > maxTime) maxTime = event.timestamp;
        if (report.firstEventAt === undefined || event.timestamp < report.firstEventAt)
          report.firstEventAt = event.timestamp;
        continue;
      }
      file.rejected++;
      const first = parsed.issues[0];
      const code = first?.code ?? 'invalid';
      const reason = (file.rejectedByReason[code] ??= { count: 0, lines: [], example: '' });
      reason.count++;
      if (reason.lines.length < EXAMPLE_LINES) reason.lines.push(lineNumber);
      if (reason.example === '')
        reason.example = `${first?.path ? `${first.path}: ` : ''}${first?.message ?? ''}`;
      if (rejects === undefined) {
        mkdirSync(dirname(rejectsPath), { recursive: true });
        rejects = createWriteStream(rejectsPath, { flags: 'w' });
        file.rejectsFile = rejectsPath;
      }
      rejects.write(
        `${JSON.stringify({ line: lineNumber, issues: parsed.issues, text: line.slice(0, 2000) })}\n`,
      );
    }
    if (batch.length >= batchSize) await flush();
    options.onProgress?.(path, chunk.bytesRead, chunk.totalBytes);
  }
  await flush();
  const lastChange = traitChanges[traitChanges.length - 1];
  if (lastChange !== undefined) {
    await applyChangesUpTo(lastChange.effectiveAt);
  }
  if (Number.isFinite(maxTime)) {
    report.lastEventAt = maxTime;
    // Nothing later arrives in an import: deadlines up to the last event time are settled.
    for (const t of await detector.tick(maxTime)) {
      if (t.kind === 'qualified') report.pqls++;
      else if (t.kind === 'expired') report.expired++;
    }
  }
  if (rejects !== undefined) {
    const stream = rejects;
    await new Promise<void>((resolve, reject) =>
      stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
  return file;
}

/**
 * Hands the export's CRM companies and Stripe events to the data directory's live sources, so a server on
 * it joins later webhooks and CRM updates with what was imported (docs/sources.md).
 */
async function keepSourcesLive(
  dataDir: string,
  dir: string,
  sources: Awaited<ReturnType<typeof loadWorkspaceSources>>,
): Promise<void> {
  const live = await LiveSources.open(dataDir);
  if (sources.companies !== undefined) await live.recordCompanies(sources.companies.companies);
  if (sources.billing === undefined) return;
  const events: { raw: string; event: unknown }[] = [];
  const ids = new Set<string>();
  for await (const chunk of readLines(join(dir, SOURCE_FILES.stripeEvents))) {
    for (const raw of chunk.lines) {
      let event: unknown;
      try {
        event = JSON.parse(raw);
      } catch {
        continue;
      }
      const id = (event as { id?: unknown } | null)?.id;
      if (typeof id !== 'string' || ids.has(id) || live.hasStripeEvent(id)) continue;
      ids.add(id);
      events.push({ raw, event });
    }
  }
  await live.recordStripeEvents(events);
}
