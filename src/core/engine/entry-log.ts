/** How many event ids an entry log keeps at each end for explanations. */
export const KEPT_IDS = 10;

/**
 * The events of one account that one stream matched, as parallel arrays sorted by time. `values` holds a
 * number per entry when the stream measures one (a summed property, an interned distinct key, a funnel
 * step mask). Event ids are kept only for the first and the latest KEPT_IDS entries, which bounds memory
 * while still naming events behind an explanation.
 */
export class EntryLog {
  readonly times: number[] = [];
  readonly values: number[] | undefined;
  /** Prefix sums of `values` (sum streams only): prefix[i] = values[0] + ... + values[i-1]. */
  readonly prefix: number[] | undefined;
  /** Key logs only: the latest entry time of each key, for O(keys) distinct counts of windows ending now. */
  readonly lastTimeByKey: Map<number, number> | undefined;
  readonly firstIds: string[] = [];
  readonly firstIdTimes: number[] = [];
  recentIds: string[] = [];
  recentIdTimes: number[] = [];

  constructor(measure: 'none' | 'sum' | 'key') {
    this.values = measure === 'none' ? undefined : [];
    this.prefix = measure === 'sum' ? [0] : undefined;
    this.lastTimeByKey = measure === 'key' ? new Map() : undefined;
  }

  get size(): number {
    return this.times.length;
  }

  /** Inserts an entry in time order (ties keep arrival order); appends in O(1) when in order. */
  insert(time: number, value: number, eventId: string): void {
    const lastTimes = this.lastTimeByKey;
    if (lastTimes !== undefined) {
      const previous = lastTimes.get(value);
      if (previous === undefined || previous < time) lastTimes.set(value, time);
    }
    const times = this.times;
    const n = times.length;
    if (n === 0 || (times[n - 1] as number) <= time) {
      times.push(time);
      if (this.values !== undefined) this.values.push(value);
      if (this.prefix !== undefined) this.prefix.push((this.prefix[n] as number) + value);
    } else {
      const at = upperBound(times, time);
      times.splice(at, 0, time);
      if (this.values !== undefined) this.values.splice(at, 0, value);
      if (this.prefix !== undefined) {
        this.prefix.splice(at + 1, 0, 0);
        for (let i = at; i <= n; i++)
          this.prefix[i + 1] = (this.prefix[i] as number) + (this.values?.[i] as number);
      }
    }
    this.keepId(time, eventId);
  }

  private keepId(time: number, eventId: string): void {
    if (this.firstIds.length < KEPT_IDS) {
      const at = upperBound(this.firstIdTimes, time);
      this.firstIds.splice(at, 0, eventId);
      this.firstIdTimes.splice(at, 0, time);
      return;
    }
    const lastFirst = this.firstIdTimes[KEPT_IDS - 1] as number;
    if (time < lastFirst) {
      // An early late event displaces the latest of the first ids, which moves to the recent ones.
      const displacedId = this.firstIds.pop() as string;
      const displacedTime = this.firstIdTimes.pop() as number;
      const at = upperBound(this.firstIdTimes, time);
      this.firstIds.splice(at, 0, eventId);
      this.firstIdTimes.splice(at, 0, time);
      this.keepRecent(displacedTime, displacedId);
      return;
    }
    this.keepRecent(time, eventId);
  }

  private keepRecent(time: number, eventId: string): void {
    const n = this.recentIdTimes.length;
    if (n === 0 || (this.recentIdTimes[n - 1] as number) <= time) {
      this.recentIds.push(eventId);
      this.recentIdTimes.push(time);
      if (n + 1 > KEPT_IDS) {
        this.recentIds.shift();
        this.recentIdTimes.shift();
      }
      return;
    }
    const at = upperBound(this.recentIdTimes, time);
    this.recentIds.splice(at, 0, eventId);
    this.recentIdTimes.splice(at, 0, time);
    if (this.recentIds.length > KEPT_IDS) {
      this.recentIds.shift();
      this.recentIdTimes.shift();
    }
  }

  /** Index of the first entry with time > t (so entries [0, result) are at or before t). */
  countAtOrBefore(t: number): number {
    return upperBound(this.times, t);
  }

  /** Index of the first entry with time >= t. */
  firstAtOrAfter(t: number): number {
    return lowerBound(this.times, t);
  }

  /** Sum of values over entry indexes [from, to). */
  sumRange(from: number, to: number): number {
    const prefix = this.prefix;
    if (prefix === undefined || to <= from) return 0;
    return (prefix[to] as number) - (prefix[from] as number);
  }

  /** Up to KEPT_IDS kept ids of entries with time in [from, to] (inclusive), in time order. */
  idsBetween(from: number, to: number): string[] {
    const ids: string[] = [];
    const collect = (list: string[], times: number[]): void => {
      for (let i = 0; i < list.length && ids.length < KEPT_IDS; i++) {
        const t = times[i] as number;
        if (t >= from && t <= to) ids.push(list[i] as string);
      }
    };
    collect(this.firstIds, this.firstIdTimes);
    collect(this.recentIds, this.recentIdTimes);
    return ids;
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
