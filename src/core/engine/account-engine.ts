import { isActivityType, type AccountEvent, type TraitChange, type TraitSource } from '../events/event.js';
import type { VersionedDefinition } from '../definitions/definition.js';
import { AccountState, QualStatus, type DefinitionState } from './account-state.js';
import { CompiledDefinition, type EngineScratch } from './compiled-definition.js';
import { DeadlineQueue } from './deadline-queue.js';
import { upperBound } from './entry-log.js';
import { toTime } from './predicate.js';
import { detachString } from '../detach-string.js';
import { StreamRegistry, type Stream } from './stream-registry.js';
import type { Explanation, QualificationRecord, Transition } from './transition.js';

/** Options of the account-keyed engine. */
export interface AccountEngineOptions {
  readonly definitions: readonly VersionedDefinition[];
  /** How late (event time) an input may arrive and still move the past; default 1 h. */
  readonly allowedLatenessMs?: number;
  /** Which source wins for an unqualified trait name; default billing, then CRM, then product. */
  readonly traitPrecedence?: readonly TraitSource[];
  /**
   * Fold entries older than every reader's window (plus the allowed lateness) into running totals; default
   * true. Off keeps every entry, so explanations at any past time stay exact (tests compare both).
   */
  readonly foldHistory?: boolean;
}

/** Counters of what the engine has seen. */
export interface AccountEngineStats {
  accounts: number;
  events: number;
  traitChanges: number;
  /** Inputs older than their account's latest input, within the allowed lateness. */
  late: number;
  /** Inputs later than the allowed lateness: applied on arrival, evaluated at the account's latest time. */
  tooLate: number;
  qualified: number;
  corrected: number;
  expired: number;
}

const EMPTY: readonly number[] = [];

/**
 * The account-keyed detection engine: applies attributed events and trait changes to per-account state,
 * re-evaluates only the definitions an input can change, and emits qualified / corrected / expired
 * transitions. Pure: time comes only from inputs and ticks.
 */
export class AccountEngine {
  readonly definitions: readonly CompiledDefinition[];
  readonly stats: AccountEngineStats = {
    accounts: 0,
    events: 0,
    traitChanges: 0,
    late: 0,
    tooLate: 0,
    qualified: 0,
    corrected: 0,
    expired: 0,
  };
  private readonly accounts = new Map<string, AccountState>();
  private readonly accountList: AccountState[] = [];
  private readonly registry = new StreamRegistry();
  private readonly definitionsByStream: number[][] = [];
  private readonly traitDefinitions: number[];
  /** Trait names the definitions read; the engine keeps only these (the store keeps every trait). */
  private readonly wantedTraits: ReadonlySet<string>;
  private readonly signupDefinitions: number[];
  private readonly deadlines = new DeadlineQueue();
  private readonly lateness: number;
  private readonly precedence: readonly TraitSource[];
  private readonly touched: Int32Array;
  private touchStamp = 0;
  private readonly touchedList: number[] = [];

  constructor(options: AccountEngineOptions) {
    this.lateness = options.allowedLatenessMs ?? 3_600_000;
    this.precedence = options.traitPrecedence ?? ['billing', 'crm', 'product'];
    const activity = this.registry.register(
      [{ types: ['track', 'page', 'screen'], names: undefined, where: [] }],
      {
        kind: 'daily',
      },
    );
    const scratch: EngineScratch = { stamps: new Int32Array(1024), stamp: 0 };
    let signalId = 0;
    this.definitions = options.definitions.map((versioned, index) => {
      const compiled = new CompiledDefinition(
        versioned,
        index,
        signalId,
        this.registry,
        activity,
        this.precedence,
        scratch,
      );
      signalId += compiled.signals.length;
      return compiled;
    });
    this.registry.seal(options.foldHistory === false ? Number.POSITIVE_INFINITY : this.lateness);
    for (const compiled of this.definitions) {
      for (const stream of compiled.streams) (this.definitionsByStream[stream] ??= []).push(compiled.index);
    }
    this.traitDefinitions = this.definitions.filter((d) => d.usesTraits).map((d) => d.index);
    this.wantedTraits = new Set(['created_at', ...this.definitions.flatMap((d) => d.traitNames())]);
    this.signupDefinitions = this.definitions.filter((d) => d.usesSignup).map((d) => d.index);
    this.touched = new Int32Array(this.definitions.length);
  }

  /** The state of an account, or undefined if no input named it. */
  account(accountId: string): AccountState | undefined {
    return this.accounts.get(accountId);
  }

  /** The user id behind a user index of `AccountState.userIds`. */
  userName(index: number): string {
    return this.registry.userName(index);
  }

  /** Every account in first-seen order. */
  allAccounts(): readonly AccountState[] {
    return this.accountList;
  }

  private accountFor(accountId: string): AccountState {
    let account = this.accounts.get(accountId);
    if (account === undefined) {
      account = new AccountState(detachString(accountId), this.accountList.length);
      this.accounts.set(account.accountId, account);
      this.accountList.push(account);
      this.stats.accounts++;
    }
    return account;
  }

  /** Applies an attributed event; appends the transitions it causes to `out`. */
  applyEvent(event: AccountEvent, out: Transition[]): void {
    const account = this.accountFor(event.accountId);
    const time = event.timestamp;
    const late = time < account.watermark;
    if (!late) this.advance(account, time, out);
    this.stats.events++;
    account.eventCount++;
    if (time > account.lastEventAt) account.lastEventAt = time;
    const stamp = this.beginTouch();
    let signupChanged = false;
    if (time < account.firstEventAt) {
      account.firstEventAt = time;
      signupChanged = account.createdAt === undefined;
    }
    if (isActivityType(event.type)) {
      const user = this.registry.userIndex(event.userId);
      account.noteUser(user);
      const matches = this.registry.match(event, user);
      const eventId = matches.count > 0 ? detachString(event.messageId) : event.messageId;
      for (let i = 0; i < matches.count; i++) {
        const stream = matches.streams[i] as Stream;
        account.log(stream).insert(time, matches.values[i] as number, eventId, user);
        const definitions = this.definitionsByStream[stream.index] ?? EMPTY;
        for (const d of definitions) this.touch(d, stamp);
      }
    }
    let traitsChanged = false;
    if (event.type === 'group' && event.traits !== undefined) {
      traitsChanged = account.traits.apply('product', time, event.traits, this.wantedTraits);
      signupChanged = this.updateCreatedAt(account, event.traits) || signupChanged;
    }
    if (traitsChanged) for (const d of this.traitDefinitions) this.touch(d, stamp);
    if (signupChanged) for (const d of this.signupDefinitions) this.touch(d, stamp);
    this.afterInput(account, time, late, event.messageId, out);
  }

  /** Applies a trait change (CRM, billing, product); appends the transitions it causes to `out`. */
  applyTraits(change: TraitChange, out: Transition[]): void {
    const account = this.accountFor(change.accountId);
    const time = change.effectiveAt;
    const late = time < account.watermark;
    if (!late) this.advance(account, time, out);
    this.stats.traitChanges++;
    const stamp = this.beginTouch();
    const changed = account.traits.apply(change.source, time, change.traits, this.wantedTraits);
    if (changed) for (const d of this.traitDefinitions) this.touch(d, stamp);
    if (this.updateCreatedAt(account, change.traits))
      for (const d of this.signupDefinitions) this.touch(d, stamp);
    this.afterInput(account, time, late, undefined, out);
  }

  /**
   * Declares that event time has reached `now`: processes deadlines (windows closing, expiry) at their own
   * times. The service ticks with its clock minus the allowed lateness, so a late event can still count.
   */
  tick(now: number, out: Transition[]): void {
    while (this.deadlines.peekTime() <= now) {
      const at = this.deadlines.peekTime();
      const account = this.accountList[this.deadlines.pop()] as AccountState;
      if (account.scheduledDeadline !== at) continue;
      this.advance(account, now, out);
      account.scheduledDeadline = Number.NaN; // force the reschedule below to push a fresh entry
      this.schedule(account);
    }
  }

  /** Seeds qualification states (from the store after a restart) so nothing qualifies twice. */
  restoreQualifications(records: readonly QualificationRecord[]): void {
    const byId = new Map(this.definitions.map((d) => [d.id, d]));
    for (const record of records) {
      const compiled = byId.get(record.definitionId);
      if (compiled === undefined) continue;
      const account = this.accountFor(record.accountId);
      const state = account.definitionState(compiled.index);
      state.qualifiedAt = record.qualifiedAt;
      state.version = record.definitionVersion;
      if (record.expiredAt === undefined) {
        state.status = QualStatus.Qualified;
      } else {
        state.status = QualStatus.Expired;
        state.expiredAt = record.expiredAt;
        state.mustStop = true;
      }
      this.schedule(account);
    }
  }

  /** Explains a definition for an account at time t (default: the account's latest input time). */
  explain(accountId: string, definitionId: string, at?: number): Explanation | undefined {
    const account = this.accounts.get(accountId);
    const compiled = this.definitions.find((d) => d.id === definitionId);
    if (account === undefined || compiled === undefined) return undefined;
    const t = at ?? (Number.isFinite(account.watermark) ? account.watermark : 0);
    return compiled.explain(account, t);
  }

  private beginTouch(): number {
    this.touchedList.length = 0;
    this.touchStamp = (this.touchStamp + 1) | 0;
    return this.touchStamp;
  }

  private touch(definition: number, stamp: number): void {
    if (this.touched[definition] !== stamp) {
      this.touched[definition] = stamp;
      this.touchedList.push(definition);
    }
  }

  private updateCreatedAt(account: AccountState, traits: Readonly<Record<string, unknown>>): boolean {
    if (!('created_at' in traits)) return false;
    const createdAt = toTime(traits['created_at']);
    if (Number.isNaN(createdAt) || createdAt === account.createdAt) return false;
    account.createdAt = createdAt;
    return true;
  }

  private afterInput(
    account: AccountState,
    time: number,
    late: boolean,
    eventId: string | undefined,
    out: Transition[],
  ): void {
    account.version++;
    const tooLate = late && account.watermark - time > this.lateness;
    if (late) {
      if (tooLate) this.stats.tooLate++;
      else this.stats.late++;
    }
    if (!tooLate) {
      const times = account.recentInputTimes;
      if (!late) times.push(time);
      else times.splice(upperBound(times, time), 0, time);
    }
    if (time > account.watermark) {
      account.watermark = time;
      const times = account.recentInputTimes;
      const horizon = time - this.lateness;
      let drop = 0;
      while (drop < times.length && (times[drop] as number) < horizon) drop++;
      if (drop > 0) {
        // In place: splice would allocate an array of the removed times on every input.
        times.copyWithin(0, drop);
        times.length -= drop;
      }
    }
    for (const index of this.touchedList) {
      const compiled = this.definitions[index] as CompiledDefinition;
      this.evaluateAfterInput(account, compiled, time, late, tooLate, eventId, out);
    }
    this.schedule(account);
  }

  private evaluateAfterInput(
    account: AccountState,
    compiled: CompiledDefinition,
    time: number,
    late: boolean,
    tooLate: boolean,
    eventId: string | undefined,
    out: Transition[],
  ): void {
    const state = account.definitionState(compiled.index);
    if (state.status === QualStatus.Qualified) {
      if (late && !tooLate && time < state.qualifiedAt) this.correct(account, compiled, state, time, out);
      return;
    }
    if (state.status === QualStatus.Expired && state.mustStop) {
      const at = late ? account.watermark : time;
      if (compiled.holds(account, at) !== true) state.mustStop = false;
      return;
    }
    if (!late) {
      if (compiled.holds(account, time) === true) this.qualify(account, compiled, state, time, eventId, out);
      return;
    }
    if (tooLate) {
      if (compiled.holds(account, account.watermark) === true)
        this.qualify(account, compiled, state, account.watermark, eventId, out);
      return;
    }
    const times = account.recentInputTimes;
    for (let i = upperBound(times, time - 1); i < times.length; i++) {
      const t = times[i] as number;
      if (i + 1 < times.length && times[i + 1] === t) continue;
      if (state.status === QualStatus.Expired && t < state.expiredAt) continue;
      if (compiled.holds(account, t) === true) {
        this.qualify(account, compiled, state, t, eventId, out);
        return;
      }
    }
  }

  private correct(
    account: AccountState,
    compiled: CompiledDefinition,
    state: DefinitionState,
    from: number,
    out: Transition[],
  ): void {
    const times = account.recentInputTimes;
    for (let i = upperBound(times, from - 1); i < times.length; i++) {
      const t = times[i] as number;
      if (t >= state.qualifiedAt) return;
      if (compiled.holds(account, t) === true) {
        const previous = state.qualifiedAt;
        state.qualifiedAt = t;
        this.stats.corrected++;
        out.push({
          kind: 'corrected',
          accountId: account.accountId,
          definitionId: compiled.id,
          definitionVersion: state.version,
          previousQualifiedAt: previous,
          qualifiedAt: t,
          explanation: compiled.explain(account, t),
        });
        return;
      }
    }
  }

  private qualify(
    account: AccountState,
    compiled: CompiledDefinition,
    state: DefinitionState,
    at: number,
    eventId: string | undefined,
    out: Transition[],
  ): void {
    state.status = QualStatus.Qualified;
    state.qualifiedAt = at;
    state.version = compiled.version;
    state.mustStop = false;
    this.stats.qualified++;
    out.push({
      kind: 'qualified',
      accountId: account.accountId,
      definitionId: compiled.id,
      definitionVersion: compiled.version,
      qualifiedAt: at,
      triggerEventId: eventId,
      explanation: compiled.explain(account, at),
    });
  }

  /** The next time something may change for the account with time alone. */
  private nextDeadline(account: AccountState): number {
    const from = Math.max(account.advancedTo, account.watermark);
    let next = Infinity;
    for (const compiled of this.definitions) {
      const state = account.definitionStates[compiled.index];
      if (state !== undefined && state.status === QualStatus.Qualified) {
        if (compiled.expireMs !== undefined) next = Math.min(next, state.qualifiedAt + compiled.expireMs);
        continue;
      }
      const mustStop = state !== undefined && state.status === QualStatus.Expired && state.mustStop;
      if (compiled.timeSensitive || mustStop) {
        const at = compiled.nextDeadline(account, from, mustStop);
        if (at < next) next = at;
      }
    }
    return next;
  }

  private schedule(account: AccountState): void {
    const next = this.nextDeadline(account);
    if (next === account.scheduledDeadline) return;
    account.scheduledDeadline = next;
    if (next !== Infinity) this.deadlines.push(next, account.index);
  }

  /** Processes the account's deadlines up to and including `to`, each at its own time. */
  private advance(account: AccountState, to: number, out: Transition[]): void {
    // scheduledDeadline is recomputed after every change of the account, so it is a safe lower bound.
    if (account.scheduledDeadline > to) {
      if (to > account.advancedTo) account.advancedTo = to;
      return;
    }
    for (let guard = 0; guard < 100_000; guard++) {
      const at = this.nextDeadline(account);
      if (at > to) break;
      for (const compiled of this.definitions) {
        const state = account.definitionStates[compiled.index];
        if (state !== undefined && state.status === QualStatus.Qualified) {
          if (compiled.expireMs !== undefined && state.qualifiedAt + compiled.expireMs === at) {
            state.status = QualStatus.Expired;
            state.expiredAt = at;
            state.mustStop = compiled.holds(account, at) === true;
            this.stats.expired++;
            out.push({
              kind: 'expired',
              accountId: account.accountId,
              definitionId: compiled.id,
              definitionVersion: state.version,
              qualifiedAt: state.qualifiedAt,
              expiredAt: at,
            });
          }
          continue;
        }
        const mustStop = state !== undefined && state.status === QualStatus.Expired && state.mustStop;
        if (mustStop) {
          if (compiled.holds(account, at) !== true) (state as DefinitionState).mustStop = false;
        } else if (compiled.timeSensitive && compiled.holds(account, at) === true) {
          this.qualify(account, compiled, account.definitionState(compiled.index), at, undefined, out);
        }
      }
      account.advancedTo = at;
    }
    if (to > account.advancedTo) account.advancedTo = to;
  }
}
