import type { EventType, Properties, TraitChange, TraitSource } from '../core/events/event.js';
import type { Explanation, QualificationRecord, Transition } from '../core/engine/transition.js';

/** An accepted event as it is written to the log: its identity fields and the canonical message JSON. */
export interface NewEvent {
  readonly messageId: string;
  readonly type: EventType;
  /** Event time, epoch ms. */
  readonly timestamp: number;
  /** When the server (or import) received it, epoch ms. */
  readonly receivedAt: number;
  readonly userId: string | undefined;
  readonly anonymousId: string | undefined;
  /** The account named on the event itself (groupId or context.groupId), if any. */
  readonly accountId: string | undefined;
  /** The whole Segment-spec message as JSON text; replays re-parse it. */
  readonly body: string;
}

/** An event read back from the log, with its arrival sequence number. */
export interface StoredEvent extends NewEvent {
  readonly seq: number;
}

/** Options for reading the event log. */
export interface ReadEventsOptions {
  /** 'time': by timestamp, then arrival (replay); 'arrival': by sequence number (live order). Default 'time'. */
  readonly order?: 'time' | 'arrival';
  /** Only events with seq greater than this. */
  readonly afterSeq?: number;
  /** Events per yielded batch (default 10,000). */
  readonly batchSize?: number;
}

/** A PQL as stored: one qualification of an account under a definition id. */
export interface PqlRecord {
  /** Stable id: `${definitionId}:${accountId}:${ordinal}` (ordinal 1, 2, ... after expiries). */
  readonly id: string;
  readonly accountId: string;
  readonly definitionId: string;
  readonly definitionVersion: number;
  readonly qualifiedAt: number;
  /** Wall-clock time the transition was committed. */
  readonly detectedAt: number;
  readonly status: 'open' | 'expired';
  readonly expiredAt: number | undefined;
  readonly triggerEventId: string | undefined;
  readonly explanation: Explanation;
  /** qualifiedAt values this PQL had before late events corrected it, oldest first. */
  readonly corrections: readonly number[];
}

/** Filter for listing PQLs. */
export interface PqlFilter {
  readonly definitionId?: string;
  readonly accountId?: string;
  readonly status?: 'open' | 'expired';
  /** qualifiedAt >= since (epoch ms). */
  readonly since?: number;
  readonly limit?: number;
}

/** A change of an account's traits from one source (product group call, CRM, billing). */
export interface AccountTraitsUpdate {
  readonly accountId: string;
  readonly source: TraitSource;
  readonly effectiveAt: number;
  readonly traits: Properties;
}

/** The stored view of an account: latest traits per source and activity bounds. */
export interface AccountRecord {
  readonly accountId: string;
  /** Per trait, the value with the latest effective time across sources (then the later write). */
  readonly traits: Readonly<
    Record<string, { readonly value: unknown; readonly source: TraitSource; readonly effectiveAt: number }>
  >;
  /** Every source's own latest value of each trait (the product's `crm_company_id` beside the CRM's, say). */
  readonly bySource: Readonly<
    Partial<
      Record<TraitSource, Readonly<Record<string, { readonly value: unknown; readonly effectiveAt: number }>>>
    >
  >;
  readonly firstSeenAt: number | undefined;
  readonly lastSeenAt: number | undefined;
  readonly eventCount: number;
}

/** One version of a definition as registered. */
export interface DefinitionVersionRecord {
  readonly definitionId: string;
  readonly version: number;
  readonly contentHash: string;
  /** The definition's source text (YAML or JSON). */
  readonly source: string;
  readonly createdAt: number;
}

/**
 * An alert to deliver for a new PQL, enqueued in the same transaction as the transition that created the
 * PQL (the outbox): both commit or neither does. Its id is `${pqlId}/${channel}`, stable across retries.
 */
export interface NewAlert {
  /** Index into `TransitionBatch.transitions` of the 'qualified' transition this alert is for. */
  readonly transitionIndex: number;
  /** Channel name, e.g. 'slack-webhook', 'slack-api', 'webhook'. */
  readonly channel: string;
  /** Where on the channel: a Slack channel or user id, or '' for the channel's configured URL. */
  readonly target: string;
  /** The structured alert (JSON-serializable); the worker renders it per channel. */
  readonly payload: unknown;
}

/** Delivery state of an alert. */
export type AlertStatus = 'pending' | 'delivered' | 'dead' | 'disabled';

/** An alert in the outbox. */
export interface AlertRecord {
  readonly id: string;
  readonly pqlId: string;
  readonly channel: string;
  readonly target: string;
  readonly payload: unknown;
  readonly status: AlertStatus;
  /** Sends started so far. */
  readonly attempts: number;
  readonly nextAttemptAt: number;
  readonly createdAt: number;
  readonly deliveredAt: number | undefined;
  readonly lastError: string | undefined;
  /** A previous send may have reached the receiver before its worker died (Slack has no idempotency key). */
  readonly possibleDuplicate: boolean;
}

/** How a delivery attempt ended. */
export type AlertOutcome =
  | { readonly kind: 'delivered'; readonly at: number }
  | { readonly kind: 'retry'; readonly at: number; readonly error: string }
  /** Not sent (pacing): try again at `at`; does not count as an attempt. */
  | { readonly kind: 'deferred'; readonly at: number }
  | { readonly kind: 'dead'; readonly error: string }
  /** The endpoint is gone (HTTP 410): the alert is kept, the endpoint disabled. */
  | { readonly kind: 'disabled'; readonly error: string };

/** What a person decided about a PQL: reached out, won the deal, or ruled it out. */
export type DispositionKind = 'contacted' | 'won' | 'disqualified';

/** A disposition to record: one decision on one PQL, with the reason given. */
export interface NewDisposition {
  readonly pqlId: string;
  readonly accountId: string;
  readonly definitionId: string;
  readonly disposition: DispositionKind;
  /** Free text from the person ("no budget until Q3"); may be empty. */
  readonly reason: string;
  /** Who recorded it, when known (a rep id or name). */
  readonly recordedBy: string | undefined;
  readonly recordedAt: number;
}

/** A recorded disposition; a PQL's latest one is its current state, earlier ones stay as history. */
export interface DispositionRecord extends NewDisposition {
  /** Increasing in recording order. */
  readonly seq: number;
}

/** A batch of engine output committed atomically with the checkpoint it reached. */
export interface TransitionBatch {
  readonly transitions: readonly Transition[];
  /** Alerts for the batch's new PQLs, committed in the same transaction (the outbox). */
  readonly alerts?: readonly NewAlert[];
  /** Wall-clock commit time, recorded as each new PQL's `detectedAt`. */
  readonly detectedAt: number;
  /** The highest event seq whose effects are included; restart resumes after it. */
  readonly checkpointSeq?: number;
}

/**
 * The storage port: async and batch-oriented so the embedded SQLite store and the PostgreSQL store are
 * interchangeable; both pass `store.contract.ts`. A resolved write is durable.
 */
export interface Store {
  /** Appends events idempotently by messageId; `inserted[i]` says whether events[i] was new. */
  appendEvents(events: readonly NewEvent[]): Promise<{ readonly inserted: readonly boolean[] }>;
  /** Reads the log in batches, in time order (replay) or arrival order. */
  readEvents(options?: ReadEventsOptions): AsyncIterable<readonly StoredEvent[]>;
  countEvents(): Promise<number>;
  /** Commits transitions, the PQL rows and qualification states they change, and the checkpoint, in one transaction. */
  commitTransitions(batch: TransitionBatch): Promise<void>;
  /** The event seq that committed transitions are known to cover (0 when none). */
  loadCheckpoint(): Promise<number>;
  /** The latest qualification per (account, definition id), to seed an engine after a restart. */
  loadQualifications(): Promise<readonly QualificationRecord[]>;
  listPqls(filter?: PqlFilter): Promise<readonly PqlRecord[]>;
  getPql(id: string): Promise<PqlRecord | undefined>;
  /**
   * Appends CRM/billing trait changes to the trait log, idempotently by changeId; `inserted[i]` says whether
   * changes[i] was new. The log is what a restart replays (with the events) to rebuild point-in-time traits.
   */
  appendTraitChanges(changes: readonly TraitChange[]): Promise<{ readonly inserted: readonly boolean[] }>;
  /** Every logged trait change, ordered by effective time, then arrival. */
  readTraitChanges(): Promise<readonly TraitChange[]>;
  /** Merges trait updates into accounts (a later effectiveAt wins per trait and source). */
  updateAccountTraits(updates: readonly AccountTraitsUpdate[]): Promise<void>;
  /** Records activity bounds and counts for accounts (first/last seen, events). */
  recordAccountActivity(
    activity: readonly { readonly accountId: string; readonly at: number; readonly events: number }[],
  ): Promise<void>;
  getAccount(accountId: string): Promise<AccountRecord | undefined>;
  listAccounts(options?: {
    readonly limit?: number;
    readonly offset?: number;
  }): Promise<readonly AccountRecord[]>;
  /** Registers a definition's content; returns its version (a new one only when the content hash changed). */
  registerDefinition(
    definitionId: string,
    contentHash: string,
    source: string,
    createdAt: number,
  ): Promise<number>;
  listDefinitionVersions(definitionId?: string): Promise<readonly DefinitionVersionRecord[]>;
  /**
   * Claims up to `limit` due alerts for `workerId` for `leaseMs` and counts an attempt on each; a claim
   * whose lease ran out (its worker died mid-send) can be claimed again and is flagged possibleDuplicate.
   */
  claimAlerts(workerId: string, now: number, limit: number, leaseMs: number): Promise<readonly AlertRecord[]>;
  /** Records how a claimed alert's attempt ended; ignored unless `workerId` holds the claim. */
  completeAlert(id: string, workerId: string, outcome: AlertOutcome): Promise<void>;
  listAlerts(filter?: {
    readonly status?: AlertStatus;
    readonly limit?: number;
  }): Promise<readonly AlertRecord[]>;
  getAlert(id: string): Promise<AlertRecord | undefined>;
  /** Puts a dead or disabled alert back in the queue, due at `now`; false if there is no such alert. */
  retryAlert(id: string, now: number): Promise<boolean>;
  /** Appends a disposition to the log (dispositions are never edited: a later one supersedes). */
  recordDisposition(disposition: NewDisposition): Promise<DispositionRecord>;
  /** Dispositions in recording order, optionally of one PQL or one account. */
  listDispositions(filter?: {
    readonly pqlId?: string;
    readonly accountId?: string;
  }): Promise<readonly DispositionRecord[]>;
  close(): Promise<void>;
}
