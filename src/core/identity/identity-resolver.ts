import { detachString } from '../detach-string.js';
import type {
  AccountEvent,
  GroupEvent,
  IdentifyEvent,
  PageEvent,
  ProductEvent,
  Properties,
  TrackEvent,
} from '../events/event.js';

/** Options of an `IdentityResolver`. */
export interface IdentityResolverOptions {
  /**
   * Most events kept per user while the user has joined no account yet (default 1,000); past it the oldest
   * pending event is dropped and counted, so a user who never joins cannot grow memory without bound.
   */
  readonly maxPendingPerUser?: number;
}

/** A user's membership of an account from the time of a group call on. */
export interface Membership {
  readonly accountId: string;
  readonly since: number;
}

/** Counters of an `IdentityResolver`. */
export interface IdentityStats {
  /** Account events emitted so far. */
  readonly resolved: number;
  /** Users with events waiting for their first account. */
  readonly pendingUsers: number;
  /** Events waiting for their user's first account. */
  readonly pendingEvents: number;
  /** Pending events dropped because a user's buffer was full. */
  readonly dropped: number;
  /** Canonical users known. */
  readonly users: number;
  /** Ids (anonymous or previous user ids) linked to a canonical user. */
  readonly links: number;
}

type AttributableEvent = TrackEvent | PageEvent | IdentifyEvent | GroupEvent;

interface MutableMembership {
  readonly accountId: string;
  since: number;
}

/** Everything known about one canonical user; nothing in it refers to another user. */
interface UserRecord {
  readonly id: string;
  /** Sorted by `since`; consecutive entries name different accounts (a repeat adds nothing). */
  memberships: MutableMembership[];
  /** Events before the user joined any account, sorted by timestamp (stable). */
  pending: AttributableEvent[];
  /** Kept identify traits as [field, value, time, field, value, time, ...] (a few per user; no Map). */
  traits: unknown[] | undefined;
  /** Ids linked to this user (anonymous ids, aliased previous user ids). */
  linkedIds: string[];
}

const NONE: readonly AccountEvent[] = Object.freeze([]);
const EMPTY: Properties = Object.freeze({});

/**
 * Resolves product events to account events by the user → account rules of DESIGN.md (Semantics › Identity);
 * its state is keyed by user only (a record per canonical user plus a linked-id → canonical-id map), so it
 * runs as its own stage, partitioned by user, as long as both ids of a link reach the same partition.
 */
export class IdentityResolver {
  private readonly maxPending: number;
  private readonly users = new Map<string, UserRecord>();
  /** Linked id → canonical user id; values are always canonical (the map is kept flat). */
  private readonly canonicalOf = new Map<string, string>();
  private resolved = 0;
  private pendingUsers = 0;
  private pendingEvents = 0;
  private dropped = 0;

  constructor(options: IdentityResolverOptions = {}) {
    this.maxPending = options.maxPendingPerUser ?? 1000;
    if (!(this.maxPending >= 0)) {
      throw new RangeError(`IdentityResolver: maxPendingPerUser must be >= 0, got ${this.maxPending}`);
    }
  }

  /**
   * Attributes one event to accounts: zero events (alias, or a user with no account yet), one, or several
   * when a first group call or a link releases the user's pending events (those come first, in time order).
   */
  resolve(event: ProductEvent): readonly AccountEvent[] {
    if (event.type === 'alias') {
      // alias: previousId becomes event.userId (parseEvent guarantees userId on alias).
      const userId = event.userId as string;
      let released = this.link(event.previousId, userId);
      if (event.anonymousId !== undefined && event.anonymousId !== userId) {
        released = concat(released, this.link(event.anonymousId, userId));
      }
      return released ?? NONE;
    }
    let released: AccountEvent[] | undefined;
    let senderId: string;
    if (event.userId !== undefined) {
      // A message carrying both ids links the anonymous id to the user, as an alias would.
      if (event.anonymousId !== undefined && event.anonymousId !== event.userId) {
        released = this.link(event.anonymousId, event.userId);
      }
      senderId = event.userId;
    } else {
      senderId = event.anonymousId as string;
    }
    const userId = this.canonicalOf.get(senderId) ?? senderId;

    let accountId: string | undefined;
    let user: UserRecord | undefined;
    if (event.type === 'group') {
      accountId = event.groupId;
      if (!event.traitsOnly) {
        user = this.userRecord(userId);
        addMembership(user.memberships, event.groupId, event.timestamp);
        if (user.pending.length > 0) released = concat(released, this.release(user));
      }
    } else {
      if (event.type === 'identify') {
        user = this.userRecord(userId);
        setTraits(user, event.traits, event.timestamp);
      }
      accountId = event.contextGroupId;
      if (accountId === undefined) {
        user ??= this.users.get(userId);
        if (user !== undefined) accountId = accountAt(user.memberships, event.timestamp);
        if (accountId === undefined) {
          this.addPending(user ?? this.userRecord(userId), event);
          return released ?? NONE;
        }
      }
    }
    const output = this.toAccountEvent(event, accountId, userId);
    if (released === undefined) return [output];
    released.push(output);
    return released;
  }

  /** The user's traits from identify calls (a later call wins per field), or undefined if none were seen. */
  userTraits(userId: string): Properties | undefined {
    const traits = this.users.get(this.canonicalOf.get(userId) ?? userId)?.traits;
    if (traits === undefined) return undefined;
    const result: Record<string, unknown> = {};
    for (let i = 0; i < traits.length; i += 3) result[traits[i] as string] = traits[i + 1];
    return result;
  }

  /** The user's memberships in time order (only account switches are kept), after resolving links. */
  memberships(userId: string): readonly Membership[] {
    const user = this.users.get(this.canonicalOf.get(userId) ?? userId);
    return user === undefined
      ? []
      : user.memberships.map((m) => ({ accountId: m.accountId, since: m.since }));
  }

  /** The canonical user id an id resolves to (itself when it is not linked to another user). */
  canonicalUserId(id: string): string {
    return this.canonicalOf.get(id) ?? id;
  }

  /** Counters: events resolved, users and events pending, events dropped, users and links known. */
  stats(): IdentityStats {
    return {
      resolved: this.resolved,
      pendingUsers: this.pendingUsers,
      pendingEvents: this.pendingEvents,
      dropped: this.dropped,
      users: this.users.size,
      links: this.canonicalOf.size,
    };
  }

  /**
   * Links `fromId` to the user `toId` and merges `fromId`'s record into that user's; an id already linked
   * stays with its first user. Returns the pending events the merge released, if any.
   */
  private link(fromId: string, toId: string): AccountEvent[] | undefined {
    if (this.canonicalOf.has(fromId)) return undefined;
    const intoId = this.canonicalOf.get(toId) ?? toId;
    if (fromId === intoId) return undefined;
    const into = this.userRecord(intoId);
    this.canonicalOf.set(detachString(fromId), intoId);
    into.linkedIds.push(detachString(fromId));
    const from = this.users.get(fromId);
    if (from === undefined) return undefined;

    this.users.delete(fromId);
    for (const id of from.linkedIds) {
      this.canonicalOf.set(id, intoId);
      into.linkedIds.push(id);
    }
    for (const m of from.memberships) addMembership(into.memberships, m.accountId, m.since);
    if (from.traits !== undefined) {
      const traits = from.traits;
      for (let i = 0; i < traits.length; i += 3)
        setTrait(into, traits[i] as string, traits[i + 1], traits[i + 2] as number);
    }
    if (from.pending.length > 0) {
      this.pendingUsers--;
      this.pendingEvents -= from.pending.length;
      for (const event of from.pending) this.addPending(into, event);
    }
    return into.memberships.length > 0 && into.pending.length > 0 ? this.release(into) : undefined;
  }

  /** Emits a user's pending events now that the user has an account, in time order, and clears them. */
  private release(user: UserRecord): AccountEvent[] {
    const out: AccountEvent[] = [];
    for (const event of user.pending) {
      // Pending events carry no contextGroupId (those resolve at once), so memberships decide.
      out.push(this.toAccountEvent(event, accountAt(user.memberships, event.timestamp) as string, user.id));
    }
    this.pendingUsers--;
    this.pendingEvents -= user.pending.length;
    user.pending = [];
    return out;
  }

  private addPending(user: UserRecord, event: AttributableEvent): void {
    if (this.maxPending === 0) {
      this.dropped++;
      return;
    }
    const pending = user.pending;
    if (pending.length === 0) this.pendingUsers++;
    let i = pending.length;
    while (i > 0 && (pending[i - 1] as AttributableEvent).timestamp > event.timestamp) i--;
    if (i === pending.length) pending.push(event);
    else pending.splice(i, 0, event);
    this.pendingEvents++;
    if (pending.length > this.maxPending) {
      pending.shift();
      this.pendingEvents--;
      this.dropped++;
    }
  }

  private userRecord(userId: string): UserRecord {
    let user = this.users.get(userId);
    if (user === undefined) {
      // Kept for the user's lifetime: copy, so a slice of a parsed line does not pin the line.
      const id = detachString(userId);
      user = {
        id,
        memberships: [],
        pending: [],
        traits: undefined,
        linkedIds: [],
      };
      this.users.set(id, user);
    }
    return user;
  }

  private toAccountEvent(event: AttributableEvent, accountId: string, userId: string): AccountEvent {
    this.resolved++;
    let name: string | undefined;
    let properties: Properties;
    let traits: Properties | undefined;
    switch (event.type) {
      case 'track':
        name = event.event;
        properties = event.properties;
        break;
      case 'page':
      case 'screen':
        name = event.name;
        properties = event.properties;
        break;
      case 'identify':
        properties = event.traits;
        break;
      case 'group':
        properties = EMPTY;
        traits = event.traits;
        break;
    }
    return {
      kind: 'event',
      accountId,
      userId,
      messageId: event.messageId,
      type: event.type,
      name,
      timestamp: event.timestamp,
      properties,
      traits,
    };
  }
}

/**
 * The account of the latest membership at or before `time`; before the first membership, the first account
 * joined; undefined for a user with no membership.
 */
function accountAt(memberships: readonly MutableMembership[], time: number): string | undefined {
  const n = memberships.length;
  if (n === 0) return undefined;
  const last = memberships[n - 1] as MutableMembership;
  if (last.since <= time) return last.accountId;
  // Binary search for the last entry with since <= time.
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((memberships[mid] as MutableMembership).since <= time) lo = mid + 1;
    else hi = mid;
  }
  return (memberships[lo === 0 ? 0 : lo - 1] as MutableMembership).accountId;
}

/** Inserts a membership in time order, keeping only account switches (a repeat of the same account adds nothing). */
function addMembership(memberships: MutableMembership[], accountId: string, since: number): void {
  // Insertion point: after every entry with since <= the new one (late calls land in the middle).
  let i = memberships.length;
  while (i > 0 && (memberships[i - 1] as MutableMembership).since > since) i--;
  const before = memberships[i - 1];
  if (before !== undefined && before.accountId === accountId) return;
  const after = memberships[i];
  if (after !== undefined && after.accountId === accountId) {
    after.since = since;
    return;
  }
  memberships.splice(i, 0, { accountId: detachString(accountId), since });
}

function setTraits(user: UserRecord, traits: Properties, time: number): void {
  for (const field in traits) {
    if (Object.prototype.hasOwnProperty.call(traits, field)) setTrait(user, field, traits[field], time);
  }
}

/** User traits kept for alerts (who the people behind a PQL are); others are not needed by detection. */
const KEPT_USER_TRAITS: ReadonlySet<string> = new Set([
  'email',
  'name',
  'first_name',
  'last_name',
  'firstName',
  'lastName',
  'title',
  'role',
]);

function setTrait(user: UserRecord, field: string, value: unknown, time: number): void {
  if (!KEPT_USER_TRAITS.has(field)) return;
  const traits = (user.traits ??= []);
  const kept = typeof value === 'string' ? detachString(value) : value;
  for (let i = 0; i < traits.length; i += 3) {
    if (traits[i] !== field) continue;
    if ((traits[i + 2] as number) > time) return;
    traits[i + 1] = kept;
    traits[i + 2] = time;
    return;
  }
  traits.push(field, kept, time);
}

function concat(a: AccountEvent[] | undefined, b: AccountEvent[] | undefined): AccountEvent[] | undefined {
  if (a === undefined) return b;
  if (b !== undefined) for (const e of b) a.push(e);
  return a;
}
