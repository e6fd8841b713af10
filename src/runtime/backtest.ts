import { join } from 'node:path';
import { createEngine, type Engine } from '../core/engine/create-engine.js';
import type { QualifiedTransition, Transition } from '../core/engine/transition.js';
import type { ProductEvent, TraitChange } from '../core/events/event.js';
import { parseEventLine } from '../core/events/parse-event.js';
import type { Definition } from '../core/definitions/definition.js';
import {
  measuredAccounts,
  withOwnersAt,
  type MeasuredAccount,
  type MeasuredQualification,
} from '../core/analysis/backtest-measures.js';
import { loadWorkspaceSources } from '../sources/joins/workspace-sources.js';
import { readLines } from '../sources/read-lines.js';

/** The outcome of replaying a workspace export through the engine. */
export interface BacktestResult {
  readonly transitions: readonly Transition[];
  readonly events: number;
  /** Events whose messageId was seen before (not applied twice). */
  readonly duplicates: number;
  readonly rejected: number;
  readonly accounts: number;
  readonly firstEventAt: number | undefined;
  readonly lastEventAt: number | undefined;
  /** CRM and billing trait changes replayed at their effective times. */
  readonly traitChanges: number;
  /** Warnings from the CRM and billing files, including values that had no time (used as of the start). */
  readonly warnings: readonly string[];
  /** Every qualification with the account's CRM owner as of its `qualifiedAt`. */
  readonly qualifications: readonly MeasuredQualification[];
  /** Every account's sign-up, first paid invoice and MQL time, for the backtest measures. */
  readonly measuredAccounts: readonly MeasuredAccount[];
}

/**
 * Replays `DIR/events.ndjson` in time order through a fresh engine with the given definitions, with the
 * export's CRM and billing trait changes applied at their effective times (point in time: no leakage):
 * exactly what live detection would have done had everything arrived in time order.
 */
export async function backtestWorkspace(
  dir: string,
  definitions: readonly Definition[],
  onProgress?: (bytesRead: number, totalBytes: number) => void,
): Promise<BacktestResult> {
  const events: ProductEvent[] = [];
  let rejected = 0;
  let sorted = true;
  let last = Number.NEGATIVE_INFINITY;
  for await (const chunk of readLines(join(dir, 'events.ndjson'))) {
    chunk.lines.forEach((line, i) => {
      if (line.trim() === '') return;
      const parsed = parseEventLine(line, chunk.firstLineNumber + i);
      if (!parsed.ok) {
        rejected++;
        return;
      }
      if (parsed.value.timestamp < last) sorted = false;
      last = Math.max(last, parsed.value.timestamp);
      events.push(parsed.value);
    });
    onProgress?.(chunk.bytesRead, chunk.totalBytes);
  }
  // Replay evaluates in time order (a stable sort keeps file order for equal times).
  if (!sorted) events.sort((a, b) => a.timestamp - b.timestamp);
  const warnings: string[] = [];
  const { traitChanges } = await loadWorkspaceSources(dir, warnings);
  const engine = createEngine({ definitions, dedupeWindowMs: Infinity });
  const transitions: Transition[] = [];
  const qualifications: QualifiedTransition[] = [];
  const collect = (produced: readonly Transition[]): void => {
    for (const t of produced) {
      transitions.push(t);
      if (t.kind === 'qualified') qualifications.push(t);
    }
  };
  let nextChange = 0;
  for (const event of events) {
    while (
      nextChange < traitChanges.length &&
      (traitChanges[nextChange] as TraitChange).effectiveAt <= event.timestamp
    ) {
      collect(engine.applyTraits(traitChanges[nextChange] as TraitChange));
      nextChange++;
    }
    collect(engine.ingest(event));
  }
  for (; nextChange < traitChanges.length; nextChange++) {
    collect(engine.applyTraits(traitChanges[nextChange] as TraitChange));
  }
  const lastEventAt = events.length > 0 ? (events[events.length - 1] as ProductEvent).timestamp : undefined;
  if (lastEventAt !== undefined) collect(engine.tick(lastEventAt));
  return {
    transitions,
    events: events.length,
    duplicates: engine.stats().duplicates,
    rejected,
    accounts: engine.stats().accounts,
    firstEventAt: events[0]?.timestamp,
    lastEventAt,
    traitChanges: traitChanges.length,
    warnings,
    qualifications: withOwnersAt(qualifications, traitChanges),
    measuredAccounts: measuredAccounts(signupsOf(engine), traitChanges),
  };
}

/** The sign-up of every account the engine knows. */
export function* signupsOf(engine: Engine): Generator<{ accountId: string; signupAt: number | undefined }> {
  for (const accountId of engine.accountIds())
    yield { accountId, signupAt: engine.accountSummary(accountId)?.signupAt };
}
