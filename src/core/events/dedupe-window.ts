/** Options of a `DedupeWindow`; all durations are event-time milliseconds. */
export interface DedupeWindowOptions {
  /** How far behind the latest event time ids are remembered; default 24 h (Segment's retry promise). */
  readonly windowMs?: number;
  /** Width of one eviction bucket; default 1 h. Ids are kept up to one bucket longer than the window. */
  readonly bucketMs?: number;
  /** Hard cap on remembered ids; past it the oldest buckets go early (counted). Default 2,000,000. */
  readonly maxIds?: number;
}

/** Counters of a `DedupeWindow`. */
export interface DedupeWindowStats {
  /** Ids remembered now. */
  readonly size: number;
  /** Deliveries reported as duplicates. */
  readonly duplicates: number;
  /** Ids older than the window on arrival, passed through unremembered (the store's unique index decides). */
  readonly tooOld: number;
  /** Ids forgotten before their time because `maxIds` was reached. */
  readonly evictedEarly: number;
}

const HOUR = 3_600_000;

/**
 * Remembers the message ids seen within a bounded event-time window so repeated deliveries are dropped in
 * memory; memory is bounded by evicting whole time buckets, and duplicates older than the window are left to
 * the store's unique index on `messageId`.
 */
export class DedupeWindow {
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly maxIds: number;
  /** The message ids remembered now. */
  private readonly ids = new Set<string>();
  /** bucket number (floor(timestamp / bucketMs)) → the ids filed under it. */
  private readonly buckets = new Map<number, string[]>();
  /** The bucket the last id went to, and its list: consecutive ids mostly share one (no map lookup). */
  private lastBucket = Number.NaN;
  private lastList: string[] | undefined = undefined;
  private maxTimestamp = Number.NEGATIVE_INFINITY;
  /** Buckets below this number have been evicted. */
  private firstLiveBucket = Number.NEGATIVE_INFINITY;
  private duplicates = 0;
  private tooOld = 0;
  private evictedEarly = 0;

  constructor(options: DedupeWindowOptions = {}) {
    this.windowMs = options.windowMs ?? 24 * HOUR;
    this.bucketMs = options.bucketMs ?? HOUR;
    this.maxIds = options.maxIds ?? 2_000_000;
    if (!(this.windowMs > 0) || !(this.bucketMs > 0) || !(this.maxIds > 0)) {
      throw new RangeError(
        `DedupeWindow: windowMs, bucketMs and maxIds must be positive, got ${this.windowMs}, ${this.bucketMs}, ${this.maxIds}`,
      );
    }
  }

  /**
   * True if `messageId` was already seen within the window (a duplicate); otherwise records it at `timestamp`
   * and returns false.
   */
  seen(messageId: string, timestamp: number): boolean {
    if (this.ids.has(messageId)) {
      this.duplicates++;
      return true;
    }
    const bucket = Math.floor(timestamp / this.bucketMs);
    if (bucket < this.firstLiveBucket) {
      // Older than the window: remembering it would only be evicted at once.
      this.tooOld++;
      return false;
    }
    let list = bucket === this.lastBucket ? this.lastList : this.buckets.get(bucket);
    if (list === undefined) {
      list = [];
      this.buckets.set(bucket, list);
    }
    this.lastBucket = bucket;
    this.lastList = list;
    list.push(messageId);
    this.ids.add(messageId);
    if (timestamp > this.maxTimestamp) {
      this.maxTimestamp = timestamp;
      // A bucket may go once all of it is older than maxTimestamp - windowMs.
      const firstKept = Math.floor((timestamp - this.windowMs) / this.bucketMs);
      if (firstKept > this.firstLiveBucket) this.evictBelow(firstKept);
    }
    if (this.ids.size > this.maxIds) this.evictOldestBucket();
    return false;
  }

  /** Counters: ids remembered, duplicates found, ids too old to remember, ids forgotten early. */
  stats(): DedupeWindowStats {
    return {
      size: this.ids.size,
      duplicates: this.duplicates,
      tooOld: this.tooOld,
      evictedEarly: this.evictedEarly,
    };
  }

  private evictBelow(firstKept: number): void {
    this.firstLiveBucket = firstKept;
    // Few buckets are live (window / bucket + 1), so a scan is cheaper than keeping them sorted.
    for (const [bucket, list] of this.buckets) {
      if (bucket < firstKept) this.dropBucket(bucket, list);
    }
  }

  private evictOldestBucket(): void {
    let oldest = Number.POSITIVE_INFINITY;
    for (const bucket of this.buckets.keys()) if (bucket < oldest) oldest = bucket;
    const list = this.buckets.get(oldest);
    if (list === undefined) return;
    this.evictedEarly += list.length;
    // firstLiveBucket stays: later ids of that time are still remembered, only these are forgotten.
    this.dropBucket(oldest, list);
  }

  private dropBucket(bucket: number, list: readonly string[]): void {
    for (const id of list) this.ids.delete(id);
    this.buckets.delete(bucket);
    if (bucket === this.lastBucket) {
      this.lastBucket = Number.NaN;
      this.lastList = undefined;
    }
  }
}
