import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ownerOf } from './partitioning.js';

/** Options of the partition leases. */
export interface PartitionLeasesOptions {
  /** KV bucket holding the leases and heartbeats (letters, digits, `_`, `-`). */
  readonly bucket: string;
  /** This worker's id (letters, digits, `_`, `-`). */
  readonly workerId: string;
  /** The units to share, e.g. `user.0` ... `acct.15`. */
  readonly units: readonly string[];
  /** A lease or heartbeat not renewed for this long expires (default 10 s). */
  readonly ttlMs?: number;
  /** How often leases and the heartbeat are renewed and the assignment recomputed (default 2 s). */
  readonly renewMs?: number;
  /** Starts work on a unit this worker now holds; resolves once started. */
  readonly onAcquire: (unit: string) => Promise<void>;
  /** Stops work on a unit (given away or lost); must resolve only once nothing more is written for it. */
  readonly onRelease: (unit: string, reason: 'rebalance' | 'lost' | 'shutdown') => Promise<void>;
  readonly onError?: (error: unknown) => void;
}

/**
 * Partition leases in a NATS KV bucket whose entries expire after a TTL. Every worker renews a heartbeat;
 * the live heartbeats decide by rendezvous hashing which worker should hold each unit; a unit's lease is
 * created (a compare-and-set that fails while another worker holds it) and renewed by revision, and given
 * up (after its work stopped) when the unit should move. A dead worker's heartbeat and leases expire after
 * the TTL, so its units are taken over within TTL plus one renewal period.
 *
 * The heartbeats are followed by one long-lived watch, not listed every round: a listing opens a consumer
 * on the bucket each time, and with a few workers renewing every second those piled up by the hundred and
 * slowed every lease operation on a loaded server.
 */
export class PartitionLeases {
  private readonly held = new Map<string, number>();
  /** Per unit, the latest start or stop of its work still running; each waits for the one before. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  /**
   * When each worker's latest heartbeat arrived (this process's clock); for heartbeats already in the
   * bucket when the watch began, when the server wrote them (at most now).
   */
  private readonly heartbeats = new Map<string, number>();
  private watcher: (AsyncIterable<KvWatchEntry> & { stop(): void }) | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly options: PartitionLeasesOptions,
  ) {
    this.ttlMs = options.ttlMs ?? 10_000;
    this.renewMs = options.renewMs ?? 2_000;
  }

  /** Opens (creating if needed) the bucket; call `start` to take part. */
  static async open(connection: NatsConnection, options: PartitionLeasesOptions): Promise<PartitionLeases> {
    const kv = await new Kvm(connection).create(options.bucket, { ttl: options.ttlMs ?? 10_000, history: 1 });
    return new PartitionLeases(kv, options);
  }

  /** Units this worker holds now. */
  heldUnits(): readonly string[] {
    return [...this.held.keys()].sort();
  }

  /** Runs one round now, then one every renewal period. */
  async start(): Promise<void> {
    await this.watchHeartbeats();
    await this.round();
    this.timer = setInterval(() => {
      if (this.running === undefined) this.running = this.round().finally(() => (this.running = undefined));
    }, this.renewMs);
  }

  /** Stops renewing, stops every held unit's work and gives its lease back so others take it at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.running;
    this.watcher?.stop();
    await Promise.all([...this.held.keys()].map((unit) => this.giveUp(unit, 'shutdown')));
    await Promise.all([...this.pending.values()]);
    await this.kv.delete(heartbeatKey(this.options.workerId)).catch(() => {});
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.kv.put(heartbeatKey(this.options.workerId), String(Date.now()));
      const workers = this.liveWorkers();
      const desired = new Set(
        this.options.units.filter((u) => ownerOf(u, workers) === this.options.workerId),
      );
      // Renew what stays before anything else. Starting and stopping work run beside the rounds, never
      // inside one: stopping a unit waits for its batch in progress, and on a loaded machine a round that
      // waited for it let the other leases and the heartbeat expire, so units changed hands over and over.
      for (const [unit, revision] of [...this.held]) {
        if (!desired.has(unit)) continue;
        try {
          this.held.set(unit, await this.kv.update(leaseKey(unit), this.options.workerId, revision));
        } catch {
          // Expired and taken (a long pause here) or deleted: someone else may be working on it now.
          this.held.delete(unit);
          void this.inTurn(unit, () => this.options.onRelease(unit, 'lost'));
        }
      }
      for (const unit of [...this.held.keys()]) {
        if (!desired.has(unit)) void this.giveUp(unit, 'rebalance');
      }
      for (const unit of desired) {
        // A unit still being stopped here is taken again in a later round, once its work has stopped.
        if (this.held.has(unit) || this.pending.has(unit) || this.stopped) continue;
        let revision: number;
        try {
          revision = await this.kv.create(leaseKey(unit), this.options.workerId);
        } catch {
          continue; // still held by its previous owner: it gives it up, or its lease expires
        }
        this.held.set(unit, revision);
        void this.inTurn(unit, () => this.options.onAcquire(unit));
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /**
   * Runs `task` after the unit's earlier starts and stops have finished; the promise (which never rejects:
   * errors go to `onError`) resolves when it is done.
   */
  private inTurn(unit: string, task: () => Promise<void>): Promise<void> {
    const next = (this.pending.get(unit) ?? Promise.resolve())
      .then(task)
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => {
        if (this.pending.get(unit) === next) this.pending.delete(unit);
      });
    this.pending.set(unit, next);
    return next;
  }

  /**
   * Whether this worker holds `unit`'s lease in the bucket now (read afresh, not from memory): a partition
   * that restarts checks it first, so a worker that lost a unit without noticing yet does not take the
   * partition back from its new owner.
   */
  async holds(unit: string): Promise<boolean> {
    const entry = await this.kv.get(leaseKey(unit));
    return entry !== null && entry.operation === 'PUT' && entry.string() === this.options.workerId;
  }

  /**
   * Follows every worker's heartbeat, watching again if a watch ends (a NATS restart); resolves once the
   * current heartbeats are read.
   */
  private async watchHeartbeats(): Promise<void> {
    let markCaughtUp: () => void = () => {};
    const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
    void (async () => {
      while (!this.stopped) {
        try {
          const watcher = await this.kv.watch({ key: 'worker.*' });
          this.watcher = watcher;
          for await (const entry of watcher) {
            const worker = entry.key.slice('worker.'.length);
            const now = Date.now();
            if (entry.operation === 'PUT')
              this.heartbeats.set(worker, entry.isUpdate ? now : Math.min(now, entry.created.getTime()));
            else this.heartbeats.delete(worker);
            if (entry.isUpdate || entry.delta === 0) markCaughtUp();
          }
        } catch (error) {
          this.options.onError?.(error);
        }
        if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, this.renewMs));
      }
    })();
    // An empty bucket sends nothing to catch up on.
    await Promise.race([caughtUp, new Promise((resolve) => setTimeout(resolve, 1000))]);
  }

  /**
   * Workers whose latest heartbeat is younger than the TTL, and this one. An expired heartbeat leaves no
   * trace in a watch (the bucket drops it silently), hence the age check.
   */
  private liveWorkers(): string[] {
    const now = Date.now();
    const live = [...this.heartbeats]
      .filter(([, written]) => now - written < this.ttlMs)
      .map(([worker]) => worker);
    if (!live.includes(this.options.workerId)) live.push(this.options.workerId);
    return live;
  }

  /** Stops the unit's work (after its earlier start or stop), then deletes its lease; resolves when done. */
  private giveUp(unit: string, reason: 'rebalance' | 'shutdown'): Promise<void> {
    const revision = this.held.get(unit);
    this.held.delete(unit);
    return this.inTurn(unit, async () => {
      await this.options.onRelease(unit, reason);
      if (revision !== undefined) {
        await this.kv.delete(leaseKey(unit), { previousSeq: revision }).catch(() => {});
      }
    });
  }
}

function leaseKey(unit: string): string {
  return `lease.${unit}`;
}

function heartbeatKey(workerId: string): string {
  return `worker.${workerId}`;
}
