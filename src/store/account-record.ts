import type { TraitSource } from '../core/events/event.js';
import type { AccountRecord } from './store.js';

/** An account's activity row as both stores keep it. */
export interface AccountActivityRow {
  readonly account_id: string;
  readonly first_seen_at: number | null;
  readonly last_seen_at: number | null;
  readonly event_count: number;
}

/** One source's latest value of one trait as both stores keep it (the value as JSON text). */
export interface SourceTraitRow {
  readonly trait: string;
  readonly source: TraitSource;
  readonly value: string;
  readonly effective_at: number;
  /** Store-wide write counter: among sources with the same effective time, the later write wins. */
  readonly written: number;
}

/**
 * Builds an account record from its per-source trait rows: per trait, the latest effective time wins, then
 * the later write; every source's own value is kept beside the merged one.
 */
export function toAccountRecord(
  row: AccountActivityRow,
  traitRows: readonly SourceTraitRow[],
): AccountRecord {
  const winners = new Map<string, SourceTraitRow>();
  const bySource: Partial<Record<TraitSource, Record<string, { value: unknown; effectiveAt: number }>>> = {};
  for (const trait of traitRows) {
    const current = winners.get(trait.trait);
    if (
      current === undefined ||
      trait.effective_at > current.effective_at ||
      (trait.effective_at === current.effective_at && trait.written > current.written)
    ) {
      winners.set(trait.trait, trait);
    }
    (bySource[trait.source] ??= {})[trait.trait] = {
      value: JSON.parse(trait.value) as unknown,
      effectiveAt: trait.effective_at,
    };
  }
  const traits: Record<string, { value: unknown; source: TraitSource; effectiveAt: number }> = {};
  for (const [name, trait] of winners) {
    traits[name] = {
      value: (bySource[trait.source] as Record<string, { value: unknown }>)[name]?.value,
      source: trait.source,
      effectiveAt: trait.effective_at,
    };
  }
  return {
    accountId: row.account_id,
    traits,
    bySource,
    firstSeenAt: row.first_seen_at ?? undefined,
    lastSeenAt: row.last_seen_at ?? undefined,
    eventCount: row.event_count,
  };
}
