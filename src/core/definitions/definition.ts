/**
 * The normalized form of a PQL definition, what `parseDefinition` produces and the engine compiles.
 * Durations are milliseconds; property paths are relative to the event's `properties`.
 */
import type { SegmentRule, TerritoryRule } from '../routing/owner-router.js';

/** Comparison of a measured number with a threshold. */
export type ComparisonOp = 'gte' | 'gt' | 'lte' | 'lt' | 'eq';

export interface Comparison {
  readonly op: ComparisonOp;
  readonly value: number;
}

/** Predicate operators over a trait or an event property. */
export type PredicateOp = 'eq' | 'neq' | 'in' | 'not_in' | 'gt' | 'gte' | 'lt' | 'lte' | 'exists' | 'matches';

/** A predicate on one event property (inside a signal's `where`). */
export interface PropertyPredicate {
  /** Path inside `properties`, e.g. ['plan', 'name'] for `properties.plan.name`. */
  readonly path: readonly string[];
  readonly op: PredicateOp;
  /** The operand: a scalar, a list for in/not_in, a boolean for exists, a regex source for matches. */
  readonly value: unknown;
}

/** Which events a signal reads: by type, by name, and by property predicates (all must hold). */
export interface EventSelector {
  readonly types: readonly ('track' | 'page' | 'screen')[];
  /** Event (or page/screen) names; undefined means any name. */
  readonly names: readonly string[] | undefined;
  readonly where: readonly PropertyPredicate[];
}

/** The time range a signal measures over, at an evaluation time t. */
export type SignalWindow =
  | { readonly kind: 'all' }
  /** The `ms` ending at t (rolling). */
  | { readonly kind: 'rolling'; readonly ms: number }
  /** From sign-up to sign-up + ms (anchored). */
  | { readonly kind: 'signup'; readonly ms: number }
  /** After the time signal `signal` first held, up to `ms` later (anchored); ms undefined = no end. */
  | { readonly kind: 'after'; readonly signal: string; readonly ms: number | undefined };

/** Funnel window: all time, anchored at sign-up, or N after the first step. */
export type FunnelWindow =
  | { readonly kind: 'all' }
  | { readonly kind: 'signup'; readonly ms: number }
  | { readonly kind: 'first_step'; readonly ms: number };

/** A named behavioural condition. */
export type SignalSpec =
  | {
      readonly kind: 'count';
      readonly selector: EventSelector;
      readonly window: SignalWindow;
      readonly compare: Comparison;
    }
  | {
      readonly kind: 'sum';
      readonly selector: EventSelector;
      readonly property: readonly string[];
      readonly window: SignalWindow;
      readonly compare: Comparison;
    }
  | {
      readonly kind: 'distinct';
      readonly selector: EventSelector;
      readonly property: readonly string[];
      readonly window: SignalWindow;
      readonly compare: Comparison;
    }
  | {
      readonly kind: 'distinct_users';
      readonly selector: EventSelector;
      readonly window: SignalWindow;
      readonly compare: Comparison;
    }
  /** A track/page/screen event of any member on a later UTC day than `after` first held, at most `withinMs` after it. */
  | { readonly kind: 'returned'; readonly withinMs: number; readonly after: string }
  /** Steps in strict time order by any members; holds when at least `reached` steps are done. */
  | {
      readonly kind: 'funnel';
      readonly steps: readonly EventSelector[];
      readonly stepLabels: readonly string[];
      readonly reached: number;
      readonly window: FunnelWindow;
    };

/** A boolean condition over fit predicates and named signals. */
export type Condition =
  | { readonly kind: 'signal'; readonly name: string }
  | { readonly kind: 'trait'; readonly trait: string; readonly op: PredicateOp; readonly value: unknown }
  | { readonly kind: 'all'; readonly of: readonly Condition[] }
  | { readonly kind: 'any'; readonly of: readonly Condition[] }
  | { readonly kind: 'not'; readonly of: Condition };

/** Where a PQL goes; interpreted by routing (`OwnerRouter`). */
export interface RouteSpec {
  /** 'crm': the account's CRM owner first. */
  readonly owner: 'crm' | undefined;
  /** The definition's territories, replacing the global ones for its PQLs; undefined keeps the global. */
  readonly territories: readonly TerritoryRule[] | undefined;
  /** The definition's segments, replacing the global ones for its PQLs; undefined keeps the global. */
  readonly segments: readonly SegmentRule[] | undefined;
  readonly fallback: { readonly roundRobin: readonly string[] } | { readonly owner: string } | undefined;
  /** e.g. "slack:#pql", "webhook". */
  readonly channel: string | undefined;
}

/** One PQL rule. Several live at once, each keyed by `id`. */
export interface Definition {
  readonly id: string;
  readonly name: string;
  readonly description: string | undefined;
  /** Content hash of the normalized definition; a change of content is a new version. */
  readonly contentHash: string;
  readonly fit: Condition | undefined;
  /** In declaration order. */
  readonly signals: readonly { readonly name: string; readonly spec: SignalSpec }[];
  readonly qualify: Condition;
  readonly exclude: Condition | undefined;
  readonly expireMs: number | undefined;
  readonly route: RouteSpec | undefined;
  /** Template with `{{signal.value}}`, `{{account.name}}`, `{{trait.employees}}` placeholders. */
  readonly nextStep: string | undefined;
}

/** A definition with the version number the registry gave it (1, 2, ... per id). */
export interface VersionedDefinition {
  readonly definition: Definition;
  readonly version: number;
}
