import { EntryLog } from './entry-log.js';
import type { Stream } from './stream-registry.js';
import { TraitHistory } from './trait-history.js';

/** Qualification status of one (account, definition id). */
export const QualStatus = { None: 0, Qualified: 1, Expired: 2 } as const;
export type QualStatus = (typeof QualStatus)[keyof typeof QualStatus];

/** Per (account, definition) qualification state. */
export interface DefinitionState {
  status: QualStatus;
  qualifiedAt: number;
  version: number;
  expiredAt: number;
  /** After an expiry while the definition still held: it must stop holding before it may qualify again. */
  mustStop: boolean;
}

/** Everything the engine keeps about one account. */
export class AccountState {
  /** Entry logs by stream index (created on first match). */
  readonly logs: (EntryLog | undefined)[] = [];
  readonly traits = new TraitHistory();
  readonly definitionStates: (DefinitionState | undefined)[] = [];
  firstEventAt = Number.POSITIVE_INFINITY;
  lastEventAt = Number.NEGATIVE_INFINITY;
  /** Sign-up from the `created_at` trait, when given. */
  createdAt: number | undefined = undefined;
  /** The latest input time seen for this account. */
  watermark = Number.NEGATIVE_INFINITY;
  /** Input times within the allowed lateness of the watermark, ascending: re-evaluation points for late events. */
  recentInputTimes: number[] = [];
  /** Times up to which time-driven deadlines have been processed. */
  advancedTo = Number.NEGATIVE_INFINITY;
  eventCount = 0;
  /** Bumped on every change; caches of derived values (anchors) are valid for one version. */
  version = 0;
  /** Users (registry user indexes) with activity in the account and their activity counts (parallel arrays; users are few). */
  userIds: number[] | undefined = undefined;
  userEvents: number[] | undefined = undefined;
  /** The next deadline registered in the engine's timer queue. */
  scheduledDeadline = Number.POSITIVE_INFINITY;

  constructor(
    readonly accountId: string,
    readonly index: number,
  ) {}

  /** The account's sign-up: its `created_at` trait when given, else its earliest attributed event. */
  signupAt(): number | undefined {
    if (this.createdAt !== undefined) return this.createdAt;
    return Number.isFinite(this.firstEventAt) ? this.firstEventAt : undefined;
  }

  /** The entry log of a stream, created on first use. */
  log(stream: Stream): EntryLog {
    let log = this.logs[stream.index];
    if (log === undefined) {
      log = new EntryLog(stream.logMeasure, stream.historyMs, stream.headKeep);
      this.logs[stream.index] = log;
    }
    return log;
  }

  /** Counts one activity event of a user, by its registry user index (numbers compare cheaply). */
  noteUser(user: number): void {
    const ids = (this.userIds ??= []);
    const counts = (this.userEvents ??= []);
    const at = ids.indexOf(user);
    if (at >= 0) counts[at] = (counts[at] as number) + 1;
    else {
      ids.push(user);
      counts.push(1);
    }
  }

  /** The state of a definition, created on first use. */
  definitionState(definitionIndex: number): DefinitionState {
    let state = this.definitionStates[definitionIndex];
    if (state === undefined) {
      state = { status: QualStatus.None, qualifiedAt: 0, version: 0, expiredAt: 0, mustStop: false };
      this.definitionStates[definitionIndex] = state;
    }
    return state;
  }
}
