import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AnalysisData } from '../core/analysis/account-timeline.js';
import { AnalysisAccumulator } from '../core/analysis/analysis-accumulator.js';
import type { ProductEvent, TraitChange } from '../core/events/event.js';
import { parseEvent } from '../core/events/parse-event.js';
import { IdentityResolver } from '../core/identity/identity-resolver.js';
import { SourceFileError } from '../sources/crm/csv-rows.js';
import type { AccountJoinKeys } from '../core/sources/join-resolver.js';
import { AccountKeyCollector } from '../sources/joins/read-account-keys.js';
import { loadWorkspaceSources, type WorkspaceSources } from '../sources/joins/workspace-sources.js';
import { readLines } from '../sources/read-lines.js';
import { openStore } from '../store/open-store.js';
import { ColumnarReadError, DuckdbUnavailableError, readExportWithDuckdb } from './duckdb-export-reader.js';
import type { Store } from '../store/store.js';

/** Where analysis reads from: a workspace export, a store's data directory, or an open store. */
export type AnalysisSource =
  { readonly exportDir: string } | { readonly dataDir: string } | { readonly store: Store };

/** Options of `loadAnalysisData`. */
export interface LoadAnalysisOptions {
  /** Days after sign-up whose behaviour is kept (default 30); discovery cannot look further. */
  readonly behaviourDays?: number;
  /** Called as the work advances: bytes of events.ndjson read, DuckDB steps done, or events read from a store. */
  readonly onProgress?: (done: number, total: number) => void;
  /**
   * How an export's events are read: `duckdb` (columnar, in SQL; see runtime/duckdb-export-reader),
   * `node` (line by line through the streaming identity resolver), or `auto` (the default): DuckDB when
   * it is installed and can read the file, else node, with a warning saying why.
   */
  readonly reader?: ExportReader;
}

/** How an export's events are read (see `LoadAnalysisOptions.reader`). */
export type ExportReader = 'auto' | 'duckdb' | 'node';

/** What was read besides the timelines: counts and warnings for the report. */
export interface AnalysisLoadStats {
  /** Event lines (or stored events) read. */
  readonly events: number;
  /** Lines that are not valid events (skipped and counted, as the import does). */
  readonly rejected: number;
  /** Events never attributed to an account (their user joined none). */
  readonly unattributed: number;
  /** CRM and billing trait changes applied. */
  readonly traitChanges: number;
  /** Accounts known only from CRM or billing (no event, so no sign-up): left out. */
  readonly withoutEvents: number;
  /**
   * Events earlier than one before them in the input: the node reader resolved their identity as live
   * arrival would. Always 0 from the DuckDB reader, which attributes in event-time order.
   */
  readonly outOfOrder: number;
  /** Which reader read the events: `duckdb` or `node` (an export), or `store`. */
  readonly reader: 'duckdb' | 'node' | 'store';
  readonly warnings: readonly string[];
}

/** Analysis input plus what loading it counted. */
export type LoadedAnalysisData = AnalysisData & { readonly load: AnalysisLoadStats };

/** A workspace export or data directory that cannot be read (the CLI exits 2, the API answers 400). */
export class AnalysisInputError extends Error {
  override readonly name = 'AnalysisInputError';
}

/**
 * Builds the per-account timelines analysis needs, streaming (memory grows with accounts and their first
 * days of behaviour, not with the events): events go through the same identity resolution as detection,
 * and CRM/billing trait changes are the ones the import and backtest replay (joined by the same rules,
 * each at its effective time), so conversion is the first paid invoice and the MQL time the CRM's.
 */
export async function loadAnalysisData(
  source: AnalysisSource,
  options: LoadAnalysisOptions = {},
): Promise<LoadedAnalysisData> {
  const accumulator = new AnalysisAccumulator(
    options.behaviourDays === undefined ? {} : { behaviourDays: options.behaviourDays },
  );
  const warnings: string[] = [];
  let read: EventsRead;
  let traitChanges: readonly TraitChange[];
  if ('exportDir' in source) {
    ({ read, traitChanges } = await readExport(source.exportDir, accumulator, warnings, options));
  } else {
    const fold = new EventFold(accumulator);
    if ('dataDir' in source) {
      if (!existsSync(source.dataDir))
        throw new AnalysisInputError(`${source.dataDir}: no such data directory`);
      const store = await openStore({ dataDir: source.dataDir });
      try {
        traitChanges = await readStore(store, fold, options.onProgress);
      } finally {
        await store.close();
      }
    } else {
      traitChanges = await readStore(source.store, fold, options.onProgress);
    }
    read = fold.counts('store');
  }
  for (const change of traitChanges) accumulator.addTraitChange(change);
  const finished = accumulator.finish();
  if (read.outOfOrder > 0)
    warnings.push(
      `${read.outOfOrder} events were earlier than one before them; identity attributed them in file order`,
    );
  return {
    features: finished.features,
    accounts: finished.accounts,
    dataEnd: finished.dataEnd,
    load: {
      events: read.events,
      rejected: read.rejected,
      unattributed: read.unattributed,
      traitChanges: traitChanges.length,
      withoutEvents: finished.withoutEvents,
      outOfOrder: read.outOfOrder,
      reader: read.reader,
      warnings,
    },
  };
}

/** What reading the events counted, whichever reader ran (the fields of `AnalysisLoadStats` it fills). */
type EventsRead = Pick<AnalysisLoadStats, 'reader' | 'events' | 'rejected' | 'unattributed' | 'outOfOrder'>;

/**
 * Reads an export's events with the chosen reader (DuckDB first under `auto`) and its CRM and billing as
 * trait changes joined to the accounts the events name.
 */
async function readExport(
  exportDir: string,
  accumulator: AnalysisAccumulator,
  warnings: string[],
  options: LoadAnalysisOptions,
): Promise<{ read: EventsRead; traitChanges: readonly TraitChange[] }> {
  const eventsPath = join(exportDir, 'events.ndjson');
  if (!existsSync(eventsPath))
    throw new AnalysisInputError(`${exportDir}: no events.ndjson in it (not a workspace export)`);
  const joinSources = (accountKeys: AccountJoinKeys[]): Promise<WorkspaceSources> =>
    loadWorkspaceSources(exportDir, warnings, { accountKeys });
  let sources: Promise<WorkspaceSources> | undefined;
  let read: EventsRead | undefined;
  if (options.reader !== 'node') {
    try {
      // A ColumnarReadError or DuckdbUnavailableError comes before any account reaches the accumulator.
      const stats = await readExportWithDuckdb(eventsPath, accumulator, {
        behaviourDays: accumulator.behaviourDays,
        ...(options.onProgress === undefined ? {} : { onStep: options.onProgress }),
        // The CRM and billing are joined while DuckDB attributes the events.
        onAccountKeys: (accountKeys) => {
          sources = joinSources(accountKeys);
          sources.catch(() => undefined);
        },
      });
      read = { reader: 'duckdb', ...stats, outOfOrder: 0 };
    } catch (error) {
      if (!(error instanceof ColumnarReadError || error instanceof DuckdbUnavailableError)) throw error;
      if (options.reader === 'duckdb') throw new AnalysisInputError(error.message);
      warnings.push(`${error.message}; read with the node reader instead`);
    }
  }
  if (read === undefined) {
    const fold = new EventFold(accumulator);
    sources = joinSources(await readEventsByLine(eventsPath, fold, options.onProgress));
    read = fold.counts('node');
  }
  try {
    // Set by onAccountKeys when DuckDB read the events (its first step), else just above.
    return { read, traitChanges: (await (sources as Promise<WorkspaceSources>)).traitChanges };
  } catch (error) {
    if (error instanceof SourceFileError) throw new AnalysisInputError(error.message);
    throw error;
  }
}

/**
 * Reads an export line by line: JSON.parse, parseEvent, the streaming identity resolver. The CRM and
 * billing joins need the accounts' keys: they are collected from the same parsed lines (a separate scan
 * parsed most lines a second time).
 */
async function readEventsByLine(
  eventsPath: string,
  fold: EventFold,
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<AccountJoinKeys[]> {
  const keys = new AccountKeyCollector();
  for await (const chunk of readLines(eventsPath)) {
    for (const line of chunk.lines) {
      if (line.trim() === '') continue;
      let message: unknown;
      try {
        message = JSON.parse(line);
      } catch {
        fold.rejected++;
        continue;
      }
      keys.add(message);
      const parsed = parseEvent(message);
      if (parsed.ok) fold.add(parsed.value);
      else fold.rejected++;
    }
    onProgress?.(chunk.bytesRead, chunk.totalBytes);
  }
  return keys.keys();
}

/** Product events → identity → accumulator, counting what it sees. */
class EventFold {
  readonly identity = new IdentityResolver();
  events = 0;
  rejected = 0;
  outOfOrder = 0;
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly accumulator: AnalysisAccumulator) {}

  counts(reader: 'node' | 'store'): EventsRead {
    const identity = this.identity.stats();
    return {
      reader,
      events: this.events,
      rejected: this.rejected,
      unattributed: identity.pendingEvents + identity.dropped,
      outOfOrder: this.outOfOrder,
    };
  }

  add(event: ProductEvent): void {
    this.events++;
    if (event.timestamp < this.last) this.outOfOrder++;
    else this.last = event.timestamp;
    for (const attributed of this.identity.resolve(event)) this.accumulator.addEvent(attributed);
  }
}

async function readStore(
  store: Store,
  fold: EventFold,
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<readonly TraitChange[]> {
  const total = await store.countEvents();
  let done = 0;
  // Time order: identity then sees each user's group call before the events it attributes, as replay does.
  for await (const batch of store.readEvents({ order: 'time' })) {
    for (const row of batch) {
      let body: unknown;
      try {
        body = JSON.parse(row.body);
      } catch {
        fold.rejected++;
        continue;
      }
      const parsed = parseEvent(body);
      if (parsed.ok) fold.add(parsed.value);
      else fold.rejected++;
    }
    done += batch.length;
    onProgress?.(done, total);
  }
  return store.readTraitChanges();
}
