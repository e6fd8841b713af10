import type { AccountEvent, TraitChange } from '../events/event.js';
import { parseTimestamp } from '../events/parse-event.js';
import { DAY_MS, featureKey, type AccountTimeline, type AnalysisData } from './account-timeline.js';

/** Options of an `AnalysisAccumulator`. */
export interface AnalysisAccumulatorOptions {
  /** Days after sign-up whose behaviour is kept (default 30): the discovery behaviour window. */
  readonly behaviourDays?: number;
}

interface AccountState {
  readonly accountId: string;
  firstSeenAt: number;
  createdAt: number | undefined;
  convertedAt: number | undefined;
  mqlAt: number | undefined;
  owner: string | undefined;
  ownerAt: number;
  mrr: [number, number][];
  readonly userIndex: Map<string, number>;
  features: Uint16Array;
  times: Float64Array;
  users: Uint32Array;
  size: number;
}

const MAX_FEATURES = 65_535;

/**
 * Folds attributed events and CRM/billing trait changes into compact per-account state for analysis:
 * only the behaviour of each account's first days after sign-up is kept, as typed arrays (14 bytes an
 * event, no object per event), plus sign-up, conversion, MQL time, owner and MRR changes. Pure.
 */
export class AnalysisAccumulator {
  /** Days after sign-up whose behaviour is kept. */
  readonly behaviourDays: number;
  private readonly windowMs: number;
  private readonly accounts = new Map<string, AccountState>();
  private readonly featureIds = new Map<string, number>();
  private readonly featureIdsByType = new Map<string, Map<string, number>>();
  private readonly featureNames: string[] = [];
  private dataEnd = Number.NEGATIVE_INFINITY;
  private kept = 0;
  private seen = 0;
  /** The account `addAccount` added last: `addBehaviourRows` writes to it. */
  private lastAccount: AccountState | undefined;
  /** Accumulator feature id of each index a columnar reader uses (-1: over the feature limit). */
  private columnarFeatures = new Int32Array(0);

  constructor(options: AnalysisAccumulatorOptions = {}) {
    const days = options.behaviourDays ?? 30;
    if (!(days > 0)) throw new RangeError(`behaviourDays: expected a number of days > 0, got ${days}`);
    this.behaviourDays = days;
    this.windowMs = days * DAY_MS;
  }

  /** Adds one attributed event: group traits give `created_at`; track, page and screen events are behaviour. */
  addEvent(event: AccountEvent): void {
    this.seen++;
    const t = event.timestamp;
    if (t > this.dataEnd) this.dataEnd = t;
    let account = this.accounts.get(event.accountId);
    if (account === undefined) {
      account = newAccount(event.accountId, t);
      this.accounts.set(event.accountId, account);
    } else if (t < account.firstSeenAt) account.firstSeenAt = t;
    if (event.type === 'group' || event.type === 'identify') {
      if (event.type === 'group' && event.traits !== undefined && account.createdAt === undefined) {
        const createdAt = parseTimestamp(event.traits['created_at']);
        if (createdAt !== undefined) account.createdAt = createdAt;
      }
      return;
    }
    if (event.name === undefined) return;
    const anchor = account.createdAt ?? account.firstSeenAt;
    if (t >= anchor + this.windowMs) return;
    const feature = this.featureOf(event.type, event.name);
    if (feature === undefined) return;
    let user = account.userIndex.get(event.userId);
    if (user === undefined) {
      user = account.userIndex.size;
      account.userIndex.set(event.userId, user);
    }
    this.keep(account, feature, t, user);
  }

  /**
   * Adds an account whose events a columnar reader attributed itself (the DuckDB export reader): its
   * earliest and latest event and the `created_at` of its first group call that had one. Its behaviour
   * follows through `addBehaviourRows`; `rows` (how many, or more) sizes its arrays once.
   */
  addAccount(
    accountId: string,
    firstSeenAt: number,
    lastSeenAt: number,
    createdAt: number | undefined,
    rows = 8,
  ): void {
    if (lastSeenAt > this.dataEnd) this.dataEnd = lastSeenAt;
    let account = this.accounts.get(accountId);
    if (account === undefined) {
      account = newAccount(accountId, firstSeenAt, Math.max(1, rows));
      this.accounts.set(accountId, account);
    } else if (firstSeenAt < account.firstSeenAt) account.firstSeenAt = firstSeenAt;
    if (account.createdAt === undefined && createdAt !== undefined) account.createdAt = createdAt;
    this.lastAccount = account;
  }

  /**
   * Names the behaviour features a columnar reader will refer to by index in `addBehaviourRows` (keys like
   * `event:X`, `page:X`, `screen:X`). Registered in name order: with no other source, ids need no remapping.
   */
  setColumnarFeatures(keys: readonly string[]): void {
    const ids = new Map<string, number>();
    for (const key of [...keys].sort()) {
      const id = this.featureId(key);
      if (id !== undefined) ids.set(key, id);
    }
    this.columnarFeatures = Int32Array.from(keys, (key) => ids.get(key) ?? -1);
  }

  /**
   * Adds behaviour rows of the account given to `addAccount` last, in time order and inside its behaviour
   * window: `features[i]` indexes the keys given to `setColumnarFeatures`, `users[i]` is any integer id of
   * the canonical user. The arrays are only read during the call.
   */
  addBehaviourRows(features: Int32Array, times: Float64Array, users: Int32Array, count: number): void {
    const account = this.lastAccount;
    if (account === undefined) throw new RangeError('addBehaviourRows: no account was added');
    const ids = this.columnarFeatures;
    this.seen += count;
    while (account.size + count > account.times.length) grow(account);
    let size = account.size;
    for (let i = 0; i < count; i++) {
      const feature = ids[features[i] as number] ?? -1;
      if (feature < 0) continue;
      account.features[size] = feature;
      account.times[size] = times[i] as number;
      account.users[size] = users[i] as number;
      size++;
    }
    this.kept += size - account.size;
    account.size = size;
  }

  /** Adds a CRM or billing trait change: `converted_at`, `mrr` (billing), `mql_at`, `owner` (CRM). */
  addTraitChange(change: TraitChange): void {
    const traits = change.traits;
    let account = this.accounts.get(change.accountId);
    if (account === undefined) {
      // Billing before the account's first event (or an account with no events): kept, flagged.
      account = newAccount(change.accountId, Number.POSITIVE_INFINITY);
      this.accounts.set(change.accountId, account);
    }
    const convertedAt = parseTimestamp(traits['converted_at']);
    if (convertedAt !== undefined && (account.convertedAt === undefined || convertedAt < account.convertedAt))
      account.convertedAt = convertedAt;
    const mrr = traits['mrr'];
    if (typeof mrr === 'number' && Number.isFinite(mrr)) account.mrr.push([change.effectiveAt, mrr]);
    const mqlAt = parseTimestamp(traits['mql_at']);
    if (mqlAt !== undefined) account.mqlAt = mqlAt;
    const owner = traits['owner'];
    if (typeof owner === 'string' && owner !== '' && change.effectiveAt >= account.ownerAt) {
      account.owner = owner;
      account.ownerAt = change.effectiveAt;
    }
  }

  /** Counters: events added, behaviour events kept, accounts. */
  stats(): { events: number; kept: number; accounts: number; features: number } {
    return {
      events: this.seen,
      kept: this.kept,
      accounts: this.accounts.size,
      features: this.featureNames.length,
    };
  }

  /**
   * The timelines of every account that has at least one event (accounts known only from billing or the
   * CRM have no sign-up and are counted in `withoutEvents`), behaviour cut to [sign-up, sign-up + window).
   * Timelines may share the accumulator's arrays: add nothing after finishing.
   */
  finish(): AnalysisData & { readonly withoutEvents: number } {
    // Features in name order, so the same data gives the same ids (and report) whatever order it came in.
    const features = [...this.featureNames].sort();
    const rank = new Map(features.map((name, id) => [name, id]));
    const idOf = Uint16Array.from(this.featureNames, (name) => rank.get(name) as number);
    const renumbered = idOf.some((id, i) => id !== i);
    const accounts: AccountTimeline[] = [];
    let withoutEvents = 0;
    for (const account of this.accounts.values()) {
      if (!Number.isFinite(account.firstSeenAt)) {
        withoutEvents++;
        continue;
      }
      accounts.push(toTimeline(account, this.windowMs, renumbered ? idOf : undefined));
    }
    accounts.sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
    return {
      features,
      accounts,
      dataEnd: Number.isFinite(this.dataEnd) ? this.dataEnd : 0,
      withoutEvents,
    };
  }

  private keep(account: AccountState, feature: number, t: number, user: number): void {
    if (account.size === account.times.length) grow(account);
    account.features[account.size] = feature;
    account.times[account.size] = t;
    account.users[account.size] = user;
    account.size++;
    this.kept++;
  }

  /** The feature id of a (type, name), looked up without building its key string each time. */
  private featureOf(type: 'track' | 'page' | 'screen', name: string): number | undefined {
    let byName = this.featureIdsByType.get(type);
    if (byName === undefined) this.featureIdsByType.set(type, (byName = new Map()));
    let id = byName.get(name);
    if (id === undefined) {
      id = this.featureId(featureKey(type, name));
      if (id !== undefined) byName.set(name, id);
    }
    return id;
  }

  private featureId(key: string): number | undefined {
    let id = this.featureIds.get(key);
    if (id === undefined) {
      if (this.featureNames.length >= MAX_FEATURES) return undefined;
      id = this.featureNames.length;
      this.featureNames.push(key);
      this.featureIds.set(key, id);
    }
    return id;
  }
}

function newAccount(accountId: string, firstSeenAt: number, capacity = 8): AccountState {
  return {
    accountId,
    firstSeenAt,
    createdAt: undefined,
    convertedAt: undefined,
    mqlAt: undefined,
    owner: undefined,
    ownerAt: Number.NEGATIVE_INFINITY,
    mrr: [],
    userIndex: new Map(),
    features: new Uint16Array(capacity),
    times: new Float64Array(capacity),
    users: new Uint32Array(capacity),
    size: 0,
  };
}

function grow(account: AccountState): void {
  const size = account.times.length * 2;
  const features = new Uint16Array(size);
  features.set(account.features);
  const times = new Float64Array(size);
  times.set(account.times);
  const users = new Uint32Array(size);
  users.set(account.users);
  account.features = features;
  account.times = times;
  account.users = users;
}

function toTimeline(account: AccountState, windowMs: number, idOf: Uint16Array | undefined): AccountTimeline {
  const signupAt = account.createdAt ?? account.firstSeenAt;
  const end = signupAt + windowMs;
  let inside = 0;
  let sorted = true;
  let last = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < account.size; i++) {
    const t = account.times[i] as number;
    if (t < signupAt || t >= end) continue;
    if (t < last) sorted = false;
    last = t;
    inside++;
  }
  const mrr = [...account.mrr].sort((a, b) => a[0] - b[0]);
  const timeline = {
    accountId: account.accountId,
    signupAt,
    convertedAt: account.convertedAt,
    mqlAt: account.mqlAt,
    owner: account.owner,
    mrr,
  };
  // Already in order, all inside the window and numbered by name (a columnar reader's rows): no copy.
  if (sorted && inside === account.size && idOf === undefined)
    return {
      ...timeline,
      features: account.features.subarray(0, account.size),
      times: account.times.subarray(0, account.size),
      users: account.users.subarray(0, account.size),
    };
  const order: number[] = [];
  for (let i = 0; i < account.size; i++) {
    const t = account.times[i] as number;
    if (t >= signupAt && t < end) order.push(i);
  }
  if (!sorted) order.sort((a, b) => (account.times[a] as number) - (account.times[b] as number) || a - b);
  const features = new Uint16Array(order.length);
  const times = new Float64Array(order.length);
  const users = new Uint32Array(order.length);
  order.forEach((index, i) => {
    const feature = account.features[index] as number;
    features[i] = idOf === undefined ? feature : (idOf[feature] as number);
    times[i] = account.times[index] as number;
    users[i] = account.users[index] as number;
  });
  return { ...timeline, features, times, users };
}
