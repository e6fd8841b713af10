/** How many of the latest event ids an entry log keeps for explanations. */
export const KEPT_IDS = 10;

const DAY_MS = 86_400_000;
/** Key logs track each key's latest time up to this many keys. */
const MAX_TRACKED_KEYS = 128;

/** What an entry log records per entry besides its time. */
export type LogMeasure = 'none' | 'sum' | 'key' | 'mask' | 'daily';

/**
 * The events of one account that one stream matched, as parallel arrays sorted by time. `values` holds a
 * number per entry when the stream measures one (a summed property, an interned distinct key, a funnel
 * step mask). A 'daily' log keeps only the earliest event of each UTC day (enough for "active on a later
 * day within N"). Only the latest KEPT_IDS event ids are kept, which bounds memory while still naming events
 * behind an explanation.
 */
export class EntryLog {
  readonly times: number[] = [];
  /** Per-entry values for key and mask logs (sums are read from `prefix`). */
  readonly values: number[] | undefined;
  /** Prefix sums of `values` (sum streams only): prefix[i] = values[0] + ... + values[i-1]. */
  readonly prefix: number[] | undefined;
  /** Key logs only: the latest entry time of each key, for O(keys) distinct counts of windows ending now. */
  private tracksKeys: boolean;
  /** Entries folded away (older than the history readers need), and the sum of their values. */
  droppedCount = 0;
  droppedSum = 0;
  /**
   * The latest KEPT_IDS event ids and their times, sorted by time (times unboxed in a number array), as a
   * ring once full: logical entry i is at (recentStart + i) % KEPT_IDS, so an in-order insert is O(1).
   */
  private recentIds: string[] | undefined = undefined;
  private recentCount = 0;
  private recentStart = 0;
  private recentTimes: number[] | undefined = undefined;
  /** The user (registry index, -1 unknown) of each kept id, parallel to `recentIds`. */
  private recentUsers: number[] | undefined = undefined;
  /** Key logs: the keys seen and the latest entry time of each (parallel arrays; keys are few per account). */
  private keys: number[] | undefined = undefined;
  private keyLastTimes: number[] | undefined = undefined;
  private readonly daily: boolean;

  constructor(
    measure: LogMeasure,
    private readonly historyMs = Number.POSITIVE_INFINITY,
    private readonly headKeep = 0,
  ) {
    this.values = measure === 'key' || measure === 'mask' ? [] : undefined;
    this.prefix = measure === 'sum' ? [0] : undefined;
    this.tracksKeys = measure === 'key';
    this.daily = measure === 'daily';
  }

  get size(): number {
    return this.times.length;
  }

  /** Inserts an entry in time order (ties keep arrival order); appends in O(1) when in order. */
  insert(time: number, value: number, eventId: string, user = -1): void {
    const times = this.times;
    const n = times.length;
    if (this.daily) {
      const last = times[n - 1];
      if (last !== undefined && last <= time) {
        // In order: a later event of the same UTC day changes nothing.
        if (Math.floor(last / DAY_MS) === Math.floor(time / DAY_MS)) return;
        times.push(time);
        this.keepId(time, eventId, user);
        return;
      }
      const at = upperBound(times, time);
      const day = Math.floor(time / DAY_MS);
      const before = times[at - 1];
      if (before !== undefined && Math.floor(before / DAY_MS) === day) return;
      const after = times[at];
      if (after !== undefined && Math.floor(after / DAY_MS) === day) times[at] = time;
      else if (at === n) times.push(time);
      else times.splice(at, 0, time);
      this.keepId(time, eventId, user);
      return;
    }
    if (this.tracksKeys) this.noteKey(value, time);
    const values = this.values;
    const prefix = this.prefix;
    if (n === 0 || (times[n - 1] as number) <= time) {
      times.push(time);
      if (values !== undefined) values.push(value);
      if (prefix !== undefined) prefix.push((prefix[n] as number) + value);
      // Cheap guard first: only look for foldable entries when the oldest unfolded one is old enough.
      if (
        n >= 64 &&
        this.historyMs !== Number.POSITIVE_INFINITY &&
        (times[this.headKeep] as number) <= time - this.historyMs
      )
        this.fold(time - this.historyMs);
    } else {
      const at = upperBound(times, time);
      times.splice(at, 0, time);
      if (values !== undefined) values.splice(at, 0, value);
      if (prefix !== undefined) {
        // prefix[i + 1] - prefix[i] is entry i's value: shift the later sums by the new value.
        prefix.splice(at + 1, 0, (prefix[at] as number) + value);
        for (let i = at + 2; i <= n + 1; i++) prefix[i] = (prefix[i] as number) + value;
      }
    }
    this.keepId(time, eventId, user);
  }

  /**
   * Folds entries at or before `horizon` (after the kept head) into droppedCount/droppedSum, when at least
   * half of the foldable entries are that old, so the work stays amortized O(1) per insert.
   */
  private fold(horizon: number): void {
    const head = this.headKeep;
    const cut = upperBound(this.times, horizon);
    const foldable = cut - head;
    if (foldable < 32 || foldable * 2 < this.times.length - head) return;
    this.droppedCount += foldable;
    this.times.splice(head, foldable);
    if (this.values !== undefined) this.values.splice(head, foldable);
    const prefix = this.prefix;
    if (prefix !== undefined) {
      const folded = (prefix[cut] as number) - (prefix[head] as number);
      this.droppedSum += folded;
      prefix.splice(head + 1, foldable);
      for (let i = head + 1; i < prefix.length; i++) prefix[i] = (prefix[i] as number) - folded;
    }
  }

  private keepId(time: number, eventId: string, user: number): void {
    let ids = this.recentIds;
    let times = this.recentTimes;
    let users = this.recentUsers;
    if (ids === undefined || times === undefined || users === undefined) {
      // Fixed capacity, filled in place: no growth slack and no allocation per insert.
      ids = this.recentIds = new Array<string>(KEPT_IDS).fill('');
      times = this.recentTimes = new Array<number>(KEPT_IDS).fill(0);
      users = this.recentUsers = new Array<number>(KEPT_IDS).fill(-1);
    }
    const n = this.recentCount;
    if (n === KEPT_IDS) {
      const start = this.recentStart;
      const newest = (start + KEPT_IDS - 1) % KEPT_IDS;
      if ((times[newest] as number) <= time) {
        // In order: the new id replaces the oldest, which is where the ring starts.
        ids[start] = eventId;
        times[start] = time;
        users[start] = user;
        this.recentStart = (start + 1) % KEPT_IDS;
        return;
      }
      let at = KEPT_IDS - 1;
      while (at > 0 && (times[(start + at - 1) % KEPT_IDS] as number) > time) at--;
      if (at === 0) return; // older than every kept id
      // Drop the oldest: shift logical [1, at) one place left and write at at - 1.
      for (let i = 1; i < at; i++) {
        const from = (start + i) % KEPT_IDS;
        const to = (start + i - 1) % KEPT_IDS;
        ids[to] = ids[from] as string;
        times[to] = times[from] as number;
        users[to] = users[from] as number;
      }
      ids[(start + at - 1) % KEPT_IDS] = eventId;
      times[(start + at - 1) % KEPT_IDS] = time;
      users[(start + at - 1) % KEPT_IDS] = user;
      return;
    }
    // Not full yet: the ring has not wrapped (recentStart is 0), logical and physical indexes agree.
    let at = n;
    while (at > 0 && (times[at - 1] as number) > time) at--;
    for (let i = n; i > at; i--) {
      ids[i] = ids[i - 1] as string;
      times[i] = times[i - 1] as number;
      users[i] = users[i - 1] as number;
    }
    ids[at] = eventId;
    times[at] = time;
    users[at] = user;
    this.recentCount = n + 1;
  }

  /** Index of the first entry with time > t (so entries [0, result) are at or before t). */
  countAtOrBefore(t: number): number {
    return upperBound(this.times, t);
  }

  /** Index of the first entry with time >= t. */
  firstAtOrAfter(t: number): number {
    return lowerBound(this.times, t);
  }

  /** Whether entries have been folded away (only windows within the kept history are exact then). */
  get folded(): boolean {
    return this.droppedCount > 0;
  }

  /** Sum of values over entry indexes [from, to). */
  sumRange(from: number, to: number): number {
    const prefix = this.prefix;
    if (prefix === undefined || to <= from) return 0;
    return (prefix[to] as number) - (prefix[from] as number);
  }

  /** The kept ids of entries with time in [from, to] (inclusive), in time order. */
  idsBetween(from: number, to: number): string[] {
    const result: string[] = [];
    const ids = this.recentIds;
    const times = this.recentTimes;
    if (ids === undefined || times === undefined) return result;
    for (let i = 0; i < this.recentCount; i++) {
      const at = (this.recentStart + i) % KEPT_IDS;
      const t = times[at] as number;
      if (t >= from && t <= to) result.push(ids[at] as string);
    }
    return result;
  }

  /** The users (registry indexes) behind those of `eventIds` this log still keeps. */
  usersOf(eventIds: ReadonlySet<string>, into: Set<number>): void {
    const ids = this.recentIds;
    const users = this.recentUsers;
    if (ids === undefined || users === undefined) return;
    for (let i = 0; i < this.recentCount; i++) {
      const at = (this.recentStart + i) % KEPT_IDS;
      const user = users[at] as number;
      if (user >= 0 && eventIds.has(ids[at] as string)) into.add(user);
    }
  }

  /** Number of distinct keys whose latest entry is at or after `from` (key logs). */
  keysSeenSince(from: number): number {
    const lastTimes = this.keyLastTimes;
    if (lastTimes === undefined) return 0;
    let count = 0;
    for (let i = 0; i < lastTimes.length; i++) if ((lastTimes[i] as number) >= from) count++;
    return count;
  }

  /** Number of distinct keys ever seen (key logs); MAX_SAFE_INTEGER once too many to track. */
  get keyCount(): number {
    if (!this.tracksKeys) return Number.MAX_SAFE_INTEGER;
    return this.keys === undefined ? 0 : this.keys.length;
  }

  private noteKey(key: number, time: number): void {
    let keys = this.keys;
    let lastTimes = this.keyLastTimes;
    if (keys === undefined || lastTimes === undefined) {
      keys = this.keys = [];
      lastTimes = this.keyLastTimes = [];
    }
    const at = keys.indexOf(key);
    if (at === -1) {
      if (keys.length === MAX_TRACKED_KEYS) {
        // Many distinct values (not users): counting by scanning the window is cheaper than tracking.
        this.tracksKeys = false;
        this.keys = this.keyLastTimes = undefined;
        return;
      }
      keys.push(key);
      lastTimes.push(time);
    } else if ((lastTimes[at] as number) < time) lastTimes[at] = time;
  }
}

/** First index i with list[i] > value. */
export function upperBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index i with list[i] >= value. */
export function lowerBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
