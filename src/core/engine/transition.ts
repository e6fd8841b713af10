import type { Definition } from '../definitions/definition.js';

/** Three-valued truth: a clause whose outcome time has not settled yet is 'pending'. */
export type Truth = true | false | 'pending';

/** One clause of a definition with its measured value against its threshold at the evaluation time. */
export interface ClauseExplanation {
  /** Where the clause sits in the definition: `fit.all[0]`, `signals.volume`, `exclude.any[1]`. */
  readonly path: string;
  /** Human label: the signal name, or the trait predicate as text (`employees >= 10`). */
  readonly label: string;
  readonly kind: string;
  readonly holds: Truth;
  /** Measured value: a number for signals, the trait value for fit predicates. */
  readonly value: unknown;
  /** The threshold as text: `>= 1000`, `in [US, CA]`, `within 7d after first_call`. */
  readonly threshold: string;
  /** Up to 10 ids of events behind the value. */
  readonly eventIds: readonly string[];
  /** How many events are behind the value. */
  readonly eventCount: number;
  /** When the clause first held, if it is a signal that did. */
  readonly firstHeldAt: number | undefined;
  /** How close a numeric clause is to passing, 0..1 (1 = passes); undefined for non-numeric clauses. */
  readonly progress: number | undefined;
}

/** Why a definition held (or does not hold) for an account at a time. */
export interface Explanation {
  readonly evaluatedAt: number;
  readonly holds: Truth;
  readonly clauses: readonly ClauseExplanation[];
  /** Paths of the clauses that keep the definition from holding (the near-PQL view); empty when it holds. */
  readonly missing: readonly string[];
}

/** An account newly satisfies a definition: one PQL. */
export interface QualifiedTransition {
  readonly kind: 'qualified';
  readonly accountId: string;
  readonly definitionId: string;
  readonly definitionVersion: number;
  /** Event time at which the whole definition first held. */
  readonly qualifiedAt: number;
  /** The input that completed it: an event id, or undefined when a deadline (tick) did. */
  readonly triggerEventId: string | undefined;
  readonly explanation: Explanation;
}

/** A late event moved a stored `qualifiedAt` earlier (no new alert). */
export interface CorrectedTransition {
  readonly kind: 'corrected';
  readonly accountId: string;
  readonly definitionId: string;
  readonly definitionVersion: number;
  readonly previousQualifiedAt: number;
  readonly qualifiedAt: number;
  readonly explanation: Explanation;
}

/** A qualification's `expire` elapsed; the account may qualify again once it stops and starts holding. */
export interface ExpiredTransition {
  readonly kind: 'expired';
  readonly accountId: string;
  readonly definitionId: string;
  readonly definitionVersion: number;
  readonly qualifiedAt: number;
  readonly expiredAt: number;
}

/** What the engine emits. */
export type Transition = QualifiedTransition | CorrectedTransition | ExpiredTransition;

/** The qualification state of one (account, definition id), persisted so a restart never alerts twice. */
export interface QualificationRecord {
  readonly accountId: string;
  readonly definitionId: string;
  readonly definitionVersion: number;
  readonly qualifiedAt: number;
  /** Set once `expire` elapsed. */
  readonly expiredAt: number | undefined;
}

/** Helper for exhaustive type guards. */
export function isQualified(t: Transition): t is QualifiedTransition {
  return t.kind === 'qualified';
}

export type { Definition };
