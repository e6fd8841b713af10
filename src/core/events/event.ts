/** Segment-spec message types that the product accepts. */
export type EventType = 'track' | 'identify' | 'group' | 'page' | 'screen' | 'alias';

/** JSON-like property bag of an event or traits object. */
export type Properties = Readonly<Record<string, unknown>>;

interface EventBase {
  readonly messageId: string;
  /** The known user id, if any; with `anonymousId` at least one is set. */
  readonly userId: string | undefined;
  readonly anonymousId: string | undefined;
  /** Event time, epoch milliseconds. */
  readonly timestamp: number;
  /** `context.groupId` (PostHog: `$groups`), which attributes the event to that account directly. */
  readonly contextGroupId: string | undefined;
}

/** A `track` call: the user did `event`. */
export interface TrackEvent extends EventBase {
  readonly type: 'track';
  readonly event: string;
  readonly properties: Properties;
}

/** A `page` or `screen` call: the user viewed `name`. */
export interface PageEvent extends EventBase {
  readonly type: 'page' | 'screen';
  readonly name: string | undefined;
  readonly properties: Properties;
}

/** An `identify` call: traits of the user. */
export interface IdentifyEvent extends EventBase {
  readonly type: 'identify';
  readonly traits: Properties;
}

/** A `group` call: the user belongs to account `groupId`, whose traits are `traits`. */
export interface GroupEvent extends EventBase {
  readonly type: 'group';
  readonly groupId: string;
  readonly traits: Properties;
  /** True for PostHog `$groupidentify`: sets the account's traits without making the user a member. */
  readonly traitsOnly: boolean;
}

/** An `alias` call: `previousId` (an anonymousId) and `userId` are the same person. */
export interface AliasEvent extends EventBase {
  readonly type: 'alias';
  readonly previousId: string;
}

/** A parsed, validated Segment-spec message. */
export type ProductEvent = TrackEvent | PageEvent | IdentifyEvent | GroupEvent | AliasEvent;

/** True for the event types that make a user active in an account (track, page, screen). */
export function isActivityType(type: EventType): type is 'track' | 'page' | 'screen' {
  return type === 'track' || type === 'page' || type === 'screen';
}

/** Where a trait value came from; see the merged account view. */
export type TraitSource = 'product' | 'crm' | 'billing';

/** An event attributed to an account by identity: what the account-keyed engine consumes. */
export interface AccountEvent {
  readonly kind: 'event';
  readonly accountId: string;
  /** The canonical user (after aliasing). */
  readonly userId: string;
  readonly messageId: string;
  readonly type: 'track' | 'page' | 'screen' | 'identify' | 'group';
  /** Event name for track, page or screen name for page/screen; undefined otherwise. */
  readonly name: string | undefined;
  readonly timestamp: number;
  readonly properties: Properties;
  /** Account traits carried by a group call (applied as product traits at `timestamp`). */
  readonly traits: Properties | undefined;
}

/** A change of account traits from a source, effective at an event time. */
export interface TraitChange {
  readonly kind: 'traits';
  readonly accountId: string;
  readonly source: TraitSource;
  readonly effectiveAt: number;
  readonly traits: Properties;
  /** Stable id of the change, so a repeated delivery changes nothing. */
  readonly changeId: string;
}

/** The passage of time up to `now` (event-time clock), which drives windows, deadlines and expiry. */
export interface Tick {
  readonly kind: 'tick';
  readonly now: number;
}

/** What the account-keyed engine consumes. */
export type EngineInput = AccountEvent | TraitChange | Tick;
