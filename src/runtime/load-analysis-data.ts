import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { AnalysisData } from '../core/analysis/account-timeline.js';
import { AnalysisAccumulator } from '../core/analysis/analysis-accumulator.js';
import type { ProductEvent, TraitChange } from '../core/events/event.js';
import { parseEvent } from '../core/events/parse-event.js';
import { IdentityResolver } from '../core/identity/identity-resolver.js';
import { SourceFileError } from '../sources/crm/csv-rows.js';
import { AccountKeyCollector } from '../sources/joins/read-account-keys.js';
import { loadWorkspaceSources } from '../sources/joins/workspace-sources.js';
import { readLines } from '../sources/read-lines.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

/** Where analysis reads from: a workspace export, a store's data directory, or an open store. */
export type AnalysisSource =
  { readonly exportDir: string } | { readonly dataDir: string } | { readonly store: Store };

/** Options of `loadAnalysisData`. */
export interface LoadAnalysisOptions {
  /** Days after sign-up whose behaviour is kept (default 30); discovery cannot look further. */
  readonly behaviourDays?: number;
  /** Called as the work advances: bytes of events.ndjson read, or events read from a store. */
  readonly onProgress?: (done: number, total: number) => void;
}

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
  /** Events earlier than one before them in the input: identity resolved them as live arrival would. */
  readonly outOfOrder: number;
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
  const fold = new EventFold(accumulator);
  const warnings: string[] = [];
  let traitChanges: readonly TraitChange[];
  if ('exportDir' in source) {
    const eventsPath = join(source.exportDir, 'events.ndjson');
    if (!existsSync(eventsPath))
      throw new AnalysisInputError(`${source.exportDir}: no events.ndjson in it (not a workspace export)`);
    // One pass: the CRM and billing joins need the accounts' keys, collected from the same parsed lines
    // (a separate scan parsed most lines a second time).
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
      options.onProgress?.(chunk.bytesRead, chunk.totalBytes);
    }
    try {
      traitChanges = (await loadWorkspaceSources(source.exportDir, warnings, { accountKeys: keys.keys() }))
        .traitChanges;
    } catch (error) {
      if (error instanceof SourceFileError) throw new AnalysisInputError(error.message);
      throw error;
    }
  } else if ('dataDir' in source) {
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
  for (const change of traitChanges) accumulator.addTraitChange(change);
  const finished = accumulator.finish();
  if (fold.outOfOrder > 0)
    warnings.push(
      `${fold.outOfOrder} events were earlier than one before them; identity attributed them in file order`,
    );
  return {
    features: finished.features,
    accounts: finished.accounts,
    dataEnd: finished.dataEnd,
    load: {
      events: fold.events,
      rejected: fold.rejected,
      unattributed: fold.identity.stats().pendingEvents + fold.identity.stats().dropped,
      traitChanges: traitChanges.length,
      withoutEvents: finished.withoutEvents,
      outOfOrder: fold.outOfOrder,
      warnings,
    },
  };
}

/** Product events → identity → accumulator, counting what it sees. */
class EventFold {
  readonly identity = new IdentityResolver();
  events = 0;
  rejected = 0;
  outOfOrder = 0;
  private last = Number.NEGATIVE_INFINITY;

  constructor(private readonly accumulator: AnalysisAccumulator) {}

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
