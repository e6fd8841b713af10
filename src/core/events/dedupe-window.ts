/** Options of a `DedupeWindow`; all durations are event-time milliseconds. */
export interface DedupeWindowOptions {
  /** How far behind the latest event time ids are remembered; default 24 h (Segment's retry promise). */
  readonly windowMs?: number;
  /**
   * Event time per bucket, default 6 h: an id joins a generation of its own bucket, and a generation goes
   * once all of it is older than the window, so ids are kept up to this much longer than the window.
   */
  readonly bucketMs?: number;
  /** Hard cap on remembered ids; past it the oldest generation goes early (counted). Default 2,000,000. */
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
  /** Sets the ids are kept in (a lookup tries each). */
  readonly generations: number;
}

const HOUR = 3_600_000;
/** Buckets a window spans at most (each has one open generation, and a lookup tries them all). */
const MAX_BUCKETS_PER_WINDOW = 8;
/** Generations a full window holds at most by count: each takes this share of `maxIds`. */
const GENERATIONS_PER_CAP = 8;

/** Ids remembered together and forgotten together. */
interface Generation {
  readonly ids: Set<string>;
  /** floor(timestamp / bucketMs) of every id in it. */
  readonly bucket: number;
  maxTimestamp: number;
}

/**
 * Remembers the message ids seen within a bounded event-time window so repeated deliveries are dropped in
 * memory; duplicates older than the window are left to the store's unique index on `messageId`.
 *
 * Ids live in a few generations, each one Set of at most an eighth of `maxIds`, all of one `bucketMs` time
 * bucket (so late ids do not multiply generations); a generation is forgotten whole, by dropping its Set. One Set of every id would have to
 * delete ids one by one and rehash millions of entries as it grows or churns, stalling the caller for up
 * to a second; here the largest rehash is of an eighth of the cap, for a few more Set lookups per id.
 */
export class DedupeWindow {
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly maxIds: number;
  private readonly generationIds: number;
  /** Oldest first. */
  private generations: Generation[] = [];
  /** Time bucket → the generation taking that bucket's new ids. */
  private readonly open = new Map<number, Generation>();
  private size = 0;
  private maxTimestamp = Number.NEGATIVE_INFINITY;
  private duplicates = 0;
  private tooOld = 0;
  private evictedEarly = 0;

  constructor(options: DedupeWindowOptions = {}) {
    this.windowMs = options.windowMs ?? 24 * HOUR;
    // A lookup tries every generation, so a window holds a few buckets at most: a long window gets wide
    // buckets, and an unbounded one (a backtest dedupes the whole file) a single bucket, whose generations
    // then split by size only. One bucket per 6 h over a year of history made a backtest 10x slower.
    this.bucketMs = Math.max(options.bucketMs ?? 6 * HOUR, this.windowMs / MAX_BUCKETS_PER_WINDOW);
    this.maxIds = options.maxIds ?? 2_000_000;
    if (!(this.windowMs > 0) || !(this.bucketMs > 0) || !(this.maxIds > 0)) {
      throw new RangeError(
        `DedupeWindow: windowMs, bucketMs and maxIds must be positive, got ${this.windowMs}, ${this.bucketMs}, ${this.maxIds}`,
      );
    }
    this.generationIds = Math.max(1, Math.ceil(this.maxIds / GENERATIONS_PER_CAP));
  }

  /**
   * True if `messageId` was already seen within the window (a duplicate); otherwise records it at `timestamp`
   * and returns false.
   */
  seen(messageId: string, timestamp: number): boolean {
    const generations = this.generations;
    // Newest first: a redelivery is most often of a recent id.
    for (let i = generations.length - 1; i >= 0; i--) {
      if ((generations[i] as Generation).ids.has(messageId)) {
        this.duplicates++;
        return true;
      }
    }
    if (timestamp < this.maxTimestamp - this.windowMs) {
      // Older than the window: remembering it would only be forgotten at once.
      this.tooOld++;
      return false;
    }
    const bucket = Math.floor(timestamp / this.bucketMs);
    let current = this.open.get(bucket);
    if (current === undefined || current.ids.size >= this.generationIds) {
      current = { ids: new Set(), bucket, maxTimestamp: timestamp };
      generations.push(current);
      this.open.set(bucket, current);
    }
    current.ids.add(messageId);
    if (timestamp > current.maxTimestamp) current.maxTimestamp = timestamp;
    this.size++;
    if (timestamp > this.maxTimestamp) {
      this.maxTimestamp = timestamp;
      this.forgetOlderThan(timestamp - this.windowMs);
    }
    if (this.size > this.maxIds) {
      const oldest = this.generations.shift() as Generation;
      this.forget(oldest);
      this.evictedEarly += oldest.ids.size;
    }
    return false;
  }

  /** Counters: ids remembered, duplicates found, ids too old to remember, ids forgotten early. */
  stats(): DedupeWindowStats {
    return {
      size: this.size,
      duplicates: this.duplicates,
      tooOld: this.tooOld,
      evictedEarly: this.evictedEarly,
      generations: this.generations.length,
    };
  }

  /** Forgets every generation whose newest id is older than `cutoff` (late ids keep theirs alive). */
  private forgetOlderThan(cutoff: number): void {
    if (!this.generations.some((g) => g.maxTimestamp < cutoff)) return;
    this.generations = this.generations.filter((g) => {
      if (g.maxTimestamp >= cutoff) return true;
      this.forget(g);
      return false;
    });
  }

  private forget(generation: Generation): void {
    this.size -= generation.ids.size;
    if (this.open.get(generation.bucket) === generation) this.open.delete(generation.bucket);
  }
}
