import type { AccountEvent, ProductEvent, TraitChange, TraitSource } from '../events/event.js';
import { DedupeWindow } from '../events/dedupe-window.js';
import type { Definition, VersionedDefinition } from '../definitions/definition.js';
import { IdentityResolver } from '../identity/identity-resolver.js';
import { AccountEngine, type AccountEngineStats } from './account-engine.js';
import type { AccountState } from './account-state.js';
import type { Explanation, QualificationRecord, Transition } from './transition.js';

/** Options of `createEngine`. */
export interface EngineOptions {
  /** The live definitions; a bare Definition gets version 1. */
  readonly definitions: readonly (VersionedDefinition | Definition)[];
  /** How late (event time) an event may arrive and still be applied as if on time; default 1 h. */
  readonly allowedLatenessMs?: number;
  /**
   * How far back (event time) repeated message ids are caught in memory; default 24 h. Pass Infinity for
   * exact dedupe of everything (memory grows with distinct ids); the stores dedupe by a unique index anyway.
   */
  readonly dedupeWindowMs?: number;
  /** Source precedence for unqualified trait names; default billing, then CRM, then product. */
  readonly traitPrecedence?: readonly TraitSource[];
  /** Qualifications already made (from a store), so a restarted engine never alerts twice. */
  readonly qualifications?: readonly QualificationRecord[];
  /** Most events buffered per user who has not joined an account yet; default 1,000. */
  readonly maxPendingPerUser?: number;
  /** Fold history older than every window into running totals (default true); see AccountEngineOptions. */
  readonly foldHistory?: boolean;
}

/** Counters of the whole pipeline. */
export interface EngineStats extends AccountEngineStats {
  duplicates: number;
  pendingUsers: number;
  pendingEvents: number;
}

/** The detection engine: dedupe, identity (user-keyed) and the account-keyed engine, in one pure object. */
export interface Engine {
  /** Applies a parsed product event; returns the transitions it caused (often none). */
  ingest(event: ProductEvent): readonly Transition[];
  /** Applies an event already attributed to an account (the scale-out engine stage). */
  ingestAccountEvent(event: AccountEvent): readonly Transition[];
  /** Applies a CRM, billing or product trait change effective at its own time. */
  applyTraits(change: TraitChange): readonly Transition[];
  /** Declares that event time reached `now`: windows close, deadlines and expiries fire at their own times. */
  tick(now: number): readonly Transition[];
  /** Every clause of a definition for an account with value vs threshold: the near-PQL view. */
  explain(accountId: string, definitionId: string, at?: number): Explanation | undefined;
  /** Account ids known to the engine, in first-seen order. */
  accountIds(): readonly string[];
  /** Sign-up, activity bounds and latest traits of an account. */
  accountSummary(accountId: string): AccountSummary | undefined;
  /** Users active in the account with their activity counts, most active first (the people behind a PQL). */
  accountUsers(accountId: string): readonly { readonly userId: string; readonly events: number }[];
  /**
   * The users behind some of an account's events (e.g. an explanation's `eventIds`), with their event
   * counts, most active first. Only ids the engine still keeps (the latest 10 per signal) are found.
   */
  usersBehind(
    accountId: string,
    eventIds: readonly string[],
  ): readonly { readonly userId: string; readonly events: number }[];
  /** The user's latest identify traits (email, name), for alerts; never logged. */
  userTraits(userId: string): Readonly<Record<string, unknown>> | undefined;
  stats(): EngineStats;
}

/** What the engine knows of one account. */
export interface AccountSummary {
  readonly accountId: string;
  readonly signupAt: number | undefined;
  readonly firstEventAt: number | undefined;
  readonly lastEventAt: number | undefined;
  readonly eventCount: number;
  readonly traits: Readonly<
    Record<string, { readonly value: unknown; readonly source: TraitSource; readonly at: number }>
  >;
}

const NONE: readonly Transition[] = Object.freeze([]);

/**
 * Creates a detection engine over a set of definitions. Live detection and backtests run this same object:
 * feed events in arrival order (live) or time order (replay).
 */
export function createEngine(options: EngineOptions): Engine {
  const definitions: VersionedDefinition[] = options.definitions.map((d) =>
    'definition' in d ? d : { definition: d, version: 1 },
  );
  const accounts = new AccountEngine({
    definitions,
    ...(options.allowedLatenessMs === undefined ? {} : { allowedLatenessMs: options.allowedLatenessMs }),
    ...(options.traitPrecedence === undefined ? {} : { traitPrecedence: options.traitPrecedence }),
    ...(options.foldHistory === undefined ? {} : { foldHistory: options.foldHistory }),
  });
  const dedupe = new DedupeWindow({ windowMs: options.dedupeWindowMs ?? 86_400_000 });
  const identity = new IdentityResolver({ maxPendingPerUser: options.maxPendingPerUser ?? 1000 });
  const precedence = options.traitPrecedence ?? ['billing', 'crm', 'product'];
  if (options.qualifications !== undefined) accounts.restoreQualifications(options.qualifications);
  /** An account's users (only those in `only`, when given) with their event counts, most active first. */
  const rankedUsers = (
    account: AccountState | undefined,
    only?: ReadonlySet<number>,
  ): { readonly userId: string; readonly events: number }[] => {
    const ids = account?.userIds ?? [];
    const counts = account?.userEvents ?? [];
    const ranked: { userId: string; events: number }[] = [];
    ids.forEach((user, i) => {
      if (only === undefined || only.has(user))
        ranked.push({ userId: accounts.userName(user), events: counts[i] as number });
    });
    return ranked.sort((a, b) => b.events - a.events);
  };

  const buffer: Transition[] = [];
  const collect = (run: (out: Transition[]) => void): readonly Transition[] => {
    buffer.length = 0;
    run(buffer);
    return buffer.length === 0 ? NONE : buffer.slice();
  };

  return {
    ingest(event) {
      if (dedupe.seen(event.messageId, event.timestamp)) return NONE;
      const attributed = identity.resolve(event);
      if (attributed.length === 0) return NONE;
      buffer.length = 0;
      for (let i = 0; i < attributed.length; i++) accounts.applyEvent(attributed[i] as AccountEvent, buffer);
      return buffer.length === 0 ? NONE : buffer.slice();
    },
    ingestAccountEvent(event) {
      if (dedupe.seen(event.messageId, event.timestamp)) return NONE;
      return collect((out) => accounts.applyEvent(event, out));
    },
    applyTraits(change) {
      if (dedupe.seen(`traits:${change.changeId}`, change.effectiveAt)) return NONE;
      return collect((out) => accounts.applyTraits(change, out));
    },
    tick(now) {
      return collect((out) => accounts.tick(now, out));
    },
    explain(accountId, definitionId, at) {
      return accounts.explain(accountId, definitionId, at);
    },
    accountIds() {
      return accounts.allAccounts().map((a) => a.accountId);
    },
    accountSummary(accountId) {
      const account = accounts.account(accountId);
      if (account === undefined) return undefined;
      return {
        accountId,
        signupAt: account.signupAt(),
        firstEventAt: Number.isFinite(account.firstEventAt) ? account.firstEventAt : undefined,
        lastEventAt: Number.isFinite(account.lastEventAt) ? account.lastEventAt : undefined,
        eventCount: account.eventCount,
        traits: account.traits.latest(precedence),
      };
    },
    accountUsers(accountId) {
      return rankedUsers(accounts.account(accountId));
    },
    usersBehind(accountId, eventIds) {
      const account = accounts.account(accountId);
      if (account === undefined || eventIds.length === 0) return [];
      const wanted = new Set(eventIds);
      const found = new Set<number>();
      for (const log of account.logs) log?.usersOf(wanted, found);
      return rankedUsers(account, found);
    },
    userTraits(userId) {
      return identity.userTraits(userId);
    },
    stats() {
      const identityStats = identity.stats();
      return {
        ...accounts.stats,
        duplicates: dedupe.stats().duplicates,
        pendingUsers: identityStats.pendingUsers,
        pendingEvents: identityStats.pendingEvents,
      };
    },
  };
}
