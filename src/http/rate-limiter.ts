/**
 * A token bucket per write key, in events per second, with bursts up to one second's worth. A request is
 * admitted while the bucket is not in debt; its events are then taken, possibly into debt, so one large
 * batch is never refused outright, but the next requests wait until the debt is paid back.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** `perSecond` 0 disables limiting. */
  constructor(
    private readonly perSecond: number,
    private readonly clock: () => number,
  ) {}

  /** Seconds to wait before `key` may send again; 0 when it may send now. */
  check(key: string): number {
    if (this.perSecond <= 0) return 0;
    const bucket = this.refill(key);
    if (bucket.tokens > 0) return 0;
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }

  /** Takes `events` tokens from `key`'s bucket. */
  take(key: string, events: number): void {
    if (this.perSecond <= 0) return;
    this.refill(key).tokens -= events;
  }

  private refill(key: string): { tokens: number; at: number } {
    const now = this.clock();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.perSecond, at: now };
      this.buckets.set(key, bucket);
      return bucket;
    }
    bucket.tokens = Math.min(this.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    return bucket;
  }
}
