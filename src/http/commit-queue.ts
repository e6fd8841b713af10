import type { ProductEvent, TraitChange } from '../core/events/event.js';
import type { Transition } from '../core/engine/transition.js';
import type { Detector } from '../runtime/detector.js';

/** The store is behind: more events are waiting for a commit than the queue admits. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

/** The queue is closed (shutdown); no new work is admitted. */
export class QueueClosedError extends Error {
  override readonly name = 'QueueClosedError';
}

/** What one committed group did, reported to the observer after each commit. */
export interface CommitReport {
  readonly transitions: readonly Transition[];
  readonly detectedAt: number;
  /** Receipt time of the earliest request in the group; undefined for a tick. */
  readonly receivedAt: number | undefined;
  readonly inserted: number;
  readonly duplicates: number;
}

interface IngestJob {
  readonly kind: 'ingest';
  readonly events: readonly ProductEvent[];
  readonly receivedAt: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface TickJob {
  readonly kind: 'tick';
  readonly now: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface TraitsJob {
  readonly kind: 'traits';
  readonly changes: readonly TraitChange[];
  resolve(transitions: readonly Transition[]): void;
  reject(error: unknown): void;
}

interface SwapJob {
  readonly kind: 'swap';
  build(current: Detector): Promise<Detector>;
  resolve(): void;
  reject(error: unknown): void;
}

type Job = IngestJob | TickJob | TraitsJob | SwapJob;

/** Options of a commit queue. */
export interface CommitQueueOptions {
  /** Events waiting beyond which `ingest` throws QueueFullError. */
  readonly maxQueuedEvents: number;
  /** Most events committed in one group. */
  readonly maxGroupEvents?: number;
  readonly clock?: () => number;
  /** Called after each commit, before the waiting requests are released. */
  readonly onCommit?: (report: CommitReport) => void;
}

/**
 * The single writer in front of the detector. Requests that arrive while a commit runs wait and are
 * committed together in the next one (group commit: one transaction for many requests); every promise
 * resolves only after its events are durable and their transitions committed. Ticks go through the same
 * line, so the engine never sees two inputs at once.
 */
export class CommitQueue {
  private readonly jobs: Job[] = [];
  private queuedEvents = 0;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly clock: () => number;
  private readonly maxGroupEvents: number;

  constructor(
    private current: Detector,
    private readonly options: CommitQueueOptions,
  ) {
    this.clock = options.clock ?? Date.now;
    this.maxGroupEvents = options.maxGroupEvents ?? 5000;
  }

  /** The detector in use (replaced by `swap`). */
  get detector(): Detector {
    return this.current;
  }

  /**
   * Replaces the detector (a new definition version) between commits: requests that arrive meanwhile wait
   * in line, and none sees a half-built state. A failed build keeps the current detector.
   */
  swap(build: (current: Detector) => Promise<Detector>): Promise<void> {
    if (this.closed) return Promise.reject(new QueueClosedError('the server is shutting down'));
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ kind: 'swap', build, resolve, reject });
      this.kick();
    });
  }

  /** Events admitted but not committed yet. */
  get depth(): number {
    return this.queuedEvents;
  }

  /** Resolves once `events` are durably stored and detected. Throws QueueFullError when overloaded. */
  ingest(events: readonly ProductEvent[], receivedAt: number): Promise<void> {
    if (this.closed) return Promise.reject(new QueueClosedError('the server is shutting down'));
    if (events.length === 0) return Promise.resolve();
    if (this.queuedEvents > 0 && this.queuedEvents + events.length > this.options.maxQueuedEvents) {
      return Promise.reject(
        new QueueFullError(`${this.queuedEvents} events are waiting for the store; retry shortly`),
      );
    }
    this.queuedEvents += events.length;
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ kind: 'ingest', events, receivedAt, resolve, reject });
      this.kick();
    });
  }

  /** Applies CRM or billing trait changes (durably, then to the engine) through the same line as ingests. */
  applyTraitChanges(changes: readonly TraitChange[]): Promise<readonly Transition[]> {
    if (this.closed) return Promise.reject(new QueueClosedError('the server is shutting down'));
    if (changes.length === 0) return Promise.resolve([]);
    return new Promise<readonly Transition[]>((resolve, reject) => {
      this.jobs.push({ kind: 'traits', changes, resolve, reject });
      this.kick();
    });
  }

  /** Advances event time to `now` through the same line as ingests. */
  tick(now: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ kind: 'tick', now, resolve, reject });
      this.kick();
    });
  }

  /** Stops admitting work and resolves once everything admitted is committed. */
  async drain(): Promise<void> {
    this.closed = true;
    while (this.running !== undefined) await this.running;
  }

  private kick(): void {
    if (this.running !== undefined) return;
    this.running = this.loop().finally(() => {
      this.running = undefined;
      if (this.jobs.length > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    while (this.jobs.length > 0) {
      const first = this.jobs[0] as Job;
      if (first.kind === 'tick') {
        this.jobs.shift();
        await this.runTick(first);
        continue;
      }
      if (first.kind === 'traits') {
        this.jobs.shift();
        try {
          const transitions = await this.current.applyTraitChanges(first.changes);
          this.report({
            transitions,
            detectedAt: this.clock(),
            receivedAt: undefined,
            inserted: 0,
            duplicates: 0,
          });
          first.resolve(transitions);
        } catch (error) {
          first.reject(error);
        }
        continue;
      }
      if (first.kind === 'swap') {
        this.jobs.shift();
        try {
          this.current = await first.build(this.current);
          first.resolve();
        } catch (error) {
          first.reject(error);
        }
        continue;
      }
      const group: IngestJob[] = [];
      let count = 0;
      while (this.jobs.length > 0) {
        const next = this.jobs[0] as Job;
        if (next.kind !== 'ingest') break;
        if (group.length > 0 && count + next.events.length > this.maxGroupEvents) break;
        this.jobs.shift();
        group.push(next);
        count += next.events.length;
      }
      await this.runGroup(group, count);
    }
  }

  private async runTick(job: TickJob): Promise<void> {
    try {
      const transitions = await this.current.tick(job.now);
      this.report({
        transitions,
        detectedAt: this.clock(),
        receivedAt: undefined,
        inserted: 0,
        duplicates: 0,
      });
      job.resolve();
    } catch (error) {
      job.reject(error);
    }
  }

  private async runGroup(group: readonly IngestJob[], count: number): Promise<void> {
    const events: ProductEvent[] = [];
    let receivedAt = Number.POSITIVE_INFINITY;
    for (const job of group) {
      for (const e of job.events) events.push(e);
      if (job.receivedAt < receivedAt) receivedAt = job.receivedAt;
    }
    try {
      const result = await this.current.ingest(events, receivedAt);
      this.report({
        transitions: result.transitions,
        detectedAt: this.clock(),
        receivedAt,
        inserted: result.inserted,
        duplicates: result.duplicates,
      });
      for (const job of group) job.resolve();
    } catch (error) {
      for (const job of group) job.reject(error);
    } finally {
      this.queuedEvents -= count;
    }
  }

  private report(report: CommitReport): void {
    try {
      this.options.onCommit?.(report);
    } catch {
      // Observers (metrics, bus) must not turn a committed batch into a failed request.
    }
  }
}
