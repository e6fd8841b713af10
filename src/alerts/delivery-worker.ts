import { randomUUID } from 'node:crypto';
import type { Alert } from '../core/alerts/alert.js';
import type { Channel, SendResult } from '../channels/channel.js';
import type { AlertOutcome, AlertRecord, Store } from '../store/store.js';

/** Options of the delivery worker; every time and random source is injectable for tests. */
export interface DeliveryWorkerOptions {
  readonly store: Store;
  readonly channels: ReadonlyMap<string, Channel>;
  readonly workerId?: string;
  readonly now?: () => number;
  /** Uniform [0, 1): the jitter source. */
  readonly random?: () => number;
  /** Attempts before an alert is dead-lettered (default 8). */
  readonly maxAttempts?: number;
  /** First backoff cap (default 1 s), doubled per attempt up to maxDelayMs (default 5 min). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** How long a claim holds before another worker may take the alert (default 60 s). */
  readonly leaseMs?: number;
  readonly batchSize?: number;
  /** Token bucket per target of a paced channel (Slack): default 1 message per second, burst 3. */
  readonly pacing?: { readonly perSecond: number; readonly burst: number };
  /**
   * A paced target with at least this many alerts due at once (a burst) gets one digest message instead
   * of one ping each; default 10.
   */
  readonly digestThreshold?: number;
  /** Fault-injection point, awaited just before each send (tests kill the process here). */
  readonly beforeSend?: (alert: AlertRecord) => Promise<void>;
  /** Called after every attempt, for metrics and logs (never with e-mail addresses). */
  readonly onAttempt?: (alert: AlertRecord, outcome: AlertOutcome) => void;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/** The newest disabled alerts read to know the disabled endpoints (an endpoint is one channel and target). */
const DISABLED_ALERTS_READ = 1000;

function endpointOf(channel: string, target: string): string {
  return `${channel}\u0000${target}`;
}

/**
 * Sends outbox alerts at least once with a stable idempotency key: claims due alerts, sends each on its
 * channel, and records the outcome — delivered; retried with exponential backoff and full jitter (or at
 * the receiver's Retry-After); deferred by per-target pacing; dead-lettered after maxAttempts or a
 * permanent refusal; endpoint disabled on HTTP 410. Several workers can share one outbox (claims).
 */
export class DeliveryWorker {
  private readonly workerId: string;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly buckets = new Map<string, Bucket>();
  /**
   * Endpoints disabled by an HTTP 410: those of the outbox's `disabled` alerts, read at the first pass and
   * again whenever an alert is due for one, so a restart remembers them, every worker sharing the outbox
   * agrees, and re-queueing an endpoint's disabled alerts (after fixing it) enables it again.
   */
  private disabledEndpoints = new Set<string>();
  private disabledLoaded = false;
  private disabledCheckedThisPass = false;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private pass: (() => void) | undefined;
  private wakeRequested = false;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID()}`;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Claims and attempts every due alert once; returns how many were attempted. */
  async runOnce(): Promise<number> {
    const o = this.options;
    if (!this.disabledLoaded) {
      await this.loadDisabledEndpoints();
      this.disabledLoaded = true;
    }
    this.disabledCheckedThisPass = false;
    const claimed = await o.store.claimAlerts(
      this.workerId,
      this.now(),
      o.batchSize ?? 500,
      o.leaseMs ?? 60_000,
    );
    const bursts = new Map<string, AlertRecord[]>();
    const singles: AlertRecord[] = [];
    for (const alert of claimed) {
      const channel = o.channels.get(alert.channel);
      if (channel?.paced === true && channel.sendDigest !== undefined) {
        const key = endpointOf(alert.channel, alert.target);
        const group = bursts.get(key) ?? [];
        group.push(alert);
        bursts.set(key, group);
      } else singles.push(alert);
    }
    for (const group of bursts.values()) {
      if (group.length >= (o.digestThreshold ?? 10)) await this.sendDigest(group);
      else singles.push(...group);
    }
    for (const alert of singles) {
      const outcome = await this.attempt(alert);
      await o.store.completeAlert(alert.id, this.workerId, outcome);
      o.onAttempt?.(alert, outcome);
    }
    return claimed.length;
  }

  /** One digest message for a burst of alerts to one paced target; its outcome applies to each alert. */
  private async sendDigest(group: readonly AlertRecord[]): Promise<void> {
    const first = group[0] as AlertRecord;
    const channel = this.options.channels.get(first.channel) as Channel;
    const endpoint = endpointOf(first.channel, first.target);
    let outcome: AlertOutcome;
    const wait = this.takeToken(endpoint);
    if (await this.isDisabled(endpoint))
      outcome = { kind: 'disabled', error: 'endpoint disabled after HTTP 410' };
    else if (wait > 0) outcome = { kind: 'deferred', at: this.now() + wait };
    else {
      for (const alert of group) await this.options.beforeSend?.(alert);
      const alerts = group.map((r) => ({ ...(r.payload as Alert), id: r.pqlId }));
      let result: SendResult;
      try {
        result = await (channel.sendDigest as NonNullable<Channel['sendDigest']>).call(
          channel,
          alerts,
          first.target,
        );
      } catch (error) {
        result = { kind: 'retry', error: error instanceof Error ? error.message : String(error) };
      }
      outcome = this.outcomeFor(first, result, endpoint);
    }
    for (const alert of group) {
      await this.options.store.completeAlert(alert.id, this.workerId, outcome);
      this.options.onAttempt?.(alert, outcome);
    }
  }

  private async attempt(record: AlertRecord): Promise<AlertOutcome> {
    const channel = this.options.channels.get(record.channel);
    if (channel === undefined)
      return { kind: 'dead', error: `channel "${record.channel}" is not configured` };
    const endpoint = endpointOf(record.channel, record.target);
    if (await this.isDisabled(endpoint))
      return { kind: 'disabled', error: 'endpoint disabled after HTTP 410' };
    if (channel.paced) {
      const wait = this.takeToken(endpoint);
      if (wait > 0) return { kind: 'deferred', at: this.now() + wait };
    }
    await this.options.beforeSend?.(record);
    let result: SendResult;
    try {
      // The alert's id is its PQL's id, which the store assigned when it committed both.
      result = await channel.send({
        id: record.id,
        alert: { ...(record.payload as Alert), id: record.pqlId },
        target: record.target,
        attempt: record.attempts,
      });
    } catch (error) {
      result = { kind: 'retry', error: error instanceof Error ? error.message : String(error) };
    }
    return this.outcomeFor(record, result, endpoint);
  }

  /** Whether `endpoint` is disabled, asking the outbox again (once a pass) before saying yes. */
  private async isDisabled(endpoint: string): Promise<boolean> {
    if (!this.disabledEndpoints.has(endpoint)) return false;
    if (!this.disabledCheckedThisPass) {
      this.disabledCheckedThisPass = true;
      await this.loadDisabledEndpoints();
    }
    return this.disabledEndpoints.has(endpoint);
  }

  private async loadDisabledEndpoints(): Promise<void> {
    const disabled = await this.options.store.listAlerts({
      status: 'disabled',
      limit: DISABLED_ALERTS_READ,
    });
    this.disabledEndpoints = new Set(disabled.map((a) => endpointOf(a.channel, a.target)));
  }

  private outcomeFor(record: AlertRecord, result: SendResult, endpoint: string): AlertOutcome {
    const now = this.now();
    switch (result.kind) {
      case 'delivered':
        return { kind: 'delivered', at: now };
      case 'gone':
        this.disabledEndpoints.add(endpoint);
        return { kind: 'disabled', error: result.error };
      case 'rejected':
        return { kind: 'dead', error: `${result.error} (not retried)` };
      case 'retry': {
        const max = this.options.maxAttempts ?? 8;
        if (record.attempts >= max)
          return { kind: 'dead', error: `${result.error} after ${record.attempts} attempts` };
        if (result.retryAfterMs !== undefined)
          return { kind: 'retry', at: now + result.retryAfterMs, error: result.error };
        return { kind: 'retry', at: now + this.backoff(record.attempts), error: result.error };
      }
    }
  }

  /** Full jitter: uniform in [0, min(max, base x 2^(attempt-1))]. */
  backoff(attempt: number): number {
    const base = this.options.baseDelayMs ?? 1000;
    const cap = Math.min(this.options.maxDelayMs ?? 300_000, base * 2 ** Math.max(0, attempt - 1));
    return Math.floor(this.random() * cap);
  }

  /** Takes a token for the endpoint; returns 0, or how long until one is available. */
  private takeToken(endpoint: string): number {
    const pacing = this.options.pacing ?? { perSecond: 1, burst: 3 };
    const now = this.now();
    const bucket = this.buckets.get(endpoint) ?? { tokens: pacing.burst, updatedAt: now };
    bucket.tokens = Math.min(
      pacing.burst,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * pacing.perSecond,
    );
    bucket.updatedAt = now;
    this.buckets.set(endpoint, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - bucket.tokens) / pacing.perSecond) * 1000);
  }

  /**
   * Polls the outbox every `intervalMs` until stopped; `wake()` runs a pass at once (the server calls it
   * when a commit enqueued alerts, so a new PQL does not wait for the next poll).
   */
  start(intervalMs = 100): void {
    if (this.pass !== undefined) return;
    const pass = (): void => {
      this.timer = undefined;
      this.wakeRequested = false;
      this.running = this.runOnce().catch(() => 0);
      void this.running.finally(() => {
        this.running = undefined;
        if (this.pass === undefined) return;
        this.timer = setTimeout(pass, this.wakeRequested ? 0 : intervalMs);
      });
    };
    this.pass = pass;
    this.timer = setTimeout(pass, 0);
  }

  /** Runs a pass now (or right after the one in flight); does nothing unless started. */
  wake(): void {
    if (this.pass === undefined) return;
    if (this.running !== undefined) {
      this.wakeRequested = true;
      return;
    }
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(this.pass, 0);
  }

  /** Stops polling and waits for the attempt in flight. */
  async stop(): Promise<void> {
    this.pass = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
