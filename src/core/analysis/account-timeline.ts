/** Milliseconds in a day (analysis horizons are whole days of 24 h). */
export const DAY_MS = 86_400_000;

/**
 * What analysis knows about one account: its sign-up, conversion, MQL time, owner, MRR history and its
 * behaviour in the first days after sign-up, as parallel arrays (feature id, time, user index) in time order.
 */
export interface AccountTimeline {
  readonly accountId: string;
  /** The `created_at` trait when given, else the earliest attributed event (DESIGN.md). */
  readonly signupAt: number;
  /** First paid invoice with an amount (billing `converted_at`), if any. */
  readonly convertedAt: number | undefined;
  /** CRM `mql_at`, if any. */
  readonly mqlAt: number | undefined;
  /** CRM owner (sales rep) id, latest value. */
  readonly owner: string | undefined;
  /** MRR changes as [effectiveAt, mrr] in time order (major units, no FX). */
  readonly mrr: readonly (readonly [number, number])[];
  /** Feature ids (indexes into the feature names) of the behaviour kept, in time order. */
  readonly features: ArrayLike<number>;
  /** Event times (epoch ms) parallel to `features`. */
  readonly times: ArrayLike<number>;
  /** Account-local user index parallel to `features`. */
  readonly users: ArrayLike<number>;
}

/** Per-account timelines plus the interned feature names (`event:X`, `page:X`, `screen:X`) and the data's end. */
export interface AnalysisData {
  readonly features: readonly string[];
  readonly accounts: readonly AccountTimeline[];
  /** The latest event time in the data: accounts are observed up to here. */
  readonly dataEnd: number;
}

/** The feature name of a track, page or screen event (`event:Step Added`, `page:Docs`). */
export function featureKey(type: 'track' | 'page' | 'screen', name: string): string {
  return `${type === 'track' ? 'event' : type}:${name}`;
}

/** The readable part of a feature key (`Step Added`, `Docs page`). */
export function featureLabel(key: string): string {
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon);
  const name = key.slice(colon + 1);
  return kind === 'event' ? name : `${name} ${kind}`;
}

/** The MRR of an account at time `at` (the last change at or before it; 0 before the first). */
export function mrrAt(mrr: readonly (readonly [number, number])[], at: number): number {
  let value = 0;
  for (const [time, amount] of mrr) {
    if (time > at) break;
    value = amount;
  }
  return value;
}
