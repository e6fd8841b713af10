import { createEngine } from '../core/engine/create-engine.js';
import type { QualifiedTransition } from '../core/engine/transition.js';
import type { Definition } from '../core/definitions/definition.js';
import type { TraitChange } from '../core/events/event.js';
import { parseEvent } from '../core/events/parse-event.js';
import type { Store } from '../store/store.js';
import {
  measuredAccounts,
  withOwnersAt,
  type MeasuredAccount,
  type MeasuredQualification,
} from '../core/analysis/backtest-measures.js';
import { signupsOf } from './backtest.js';

/** What replaying a store's history through candidate definitions found. */
export interface StoreBacktestResult {
  /** Every qualification the candidates would have made, in event-time order. */
  readonly qualified: readonly QualifiedTransition[];
  readonly events: number;
  readonly accounts: number;
  readonly traitChanges: number;
  readonly firstEventAt: number | undefined;
  readonly lastEventAt: number | undefined;
  /** The qualifications with the account's CRM owner as of each one, for the measures. */
  readonly qualifications: readonly MeasuredQualification[];
  /** Every account's sign-up, first paid invoice and MQL time, for the measures. */
  readonly measuredAccounts: readonly MeasuredAccount[];
}

/**
 * Replays a store's event log in time order, with its CRM and billing trait changes at their effective
 * times, through a fresh engine holding only `definitions`: what they would have done had they been live
 * from the start (the store and the live detector are only read).
 */
export async function backtestStore(
  store: Store,
  definitions: readonly Definition[],
): Promise<StoreBacktestResult> {
  const engine = createEngine({ definitions, dedupeWindowMs: Infinity });
  const traitChanges = await store.readTraitChanges();
  const qualified: QualifiedTransition[] = [];
  const collect = (transitions: readonly { kind: string }[]): void => {
    for (const t of transitions) if (t.kind === 'qualified') qualified.push(t as QualifiedTransition);
  };
  let nextChange = 0;
  let events = 0;
  let firstEventAt: number | undefined;
  let lastEventAt: number | undefined;
  for await (const batch of store.readEvents({ order: 'time' })) {
    for (const row of batch) {
      const parsed = parseEvent(JSON.parse(row.body));
      if (!parsed.ok) continue;
      const event = parsed.value;
      while (
        nextChange < traitChanges.length &&
        (traitChanges[nextChange] as TraitChange).effectiveAt <= event.timestamp
      ) {
        collect(engine.applyTraits(traitChanges[nextChange] as TraitChange));
        nextChange++;
      }
      collect(engine.ingest(event));
      events++;
      firstEventAt ??= event.timestamp;
      lastEventAt = event.timestamp;
    }
  }
  for (; nextChange < traitChanges.length; nextChange++) {
    collect(engine.applyTraits(traitChanges[nextChange] as TraitChange));
  }
  if (lastEventAt !== undefined) collect(engine.tick(lastEventAt));
  qualified.sort((a, b) => a.qualifiedAt - b.qualifiedAt);
  return {
    qualified,
    events,
    accounts: engine.stats().accounts,
    traitChanges: traitChanges.length,
    firstEventAt,
    lastEventAt,
    qualifications: withOwnersAt(qualified, traitChanges),
    measuredAccounts: measuredAccounts(signupsOf(engine), traitChanges),
  };
}
