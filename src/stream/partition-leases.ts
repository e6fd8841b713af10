import { Kvm, type KV } from '@nats-io/kv';
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
 */
export class PartitionLeases {
  private readonly held = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

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
    for (const unit of [...this.held.keys()]) await this.giveUp(unit, 'shutdown');
    await this.kv.delete(heartbeatKey(this.options.workerId)).catch(() => {});
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.kv.put(heartbeatKey(this.options.workerId), String(Date.now()));
      const workers: string[] = [];
      for await (const key of await this.kv.keys('worker.*')) workers.push(key.slice('worker.'.length));
      if (!workers.includes(this.options.workerId)) workers.push(this.options.workerId);
      const desired = new Set(
        this.options.units.filter((u) => ownerOf(u, workers) === this.options.workerId),
      );
      // Renew what stays before giving anything up: stopping a unit waits for its batch in progress, and a
      // slow give-up must not let the other leases expire under work that is still running.
      for (const [unit, revision] of [...this.held]) {
        if (!desired.has(unit)) continue;
        try {
          this.held.set(unit, await this.kv.update(leaseKey(unit), this.options.workerId, revision));
        } catch {
          // Expired and taken (a long pause here) or deleted: someone else may be working on it now.
          this.held.delete(unit);
          await this.options.onRelease(unit, 'lost');
        }
      }
      for (const unit of [...this.held.keys()]) {
        if (!desired.has(unit)) await this.giveUp(unit, 'rebalance');
      }
      for (const unit of desired) {
        if (this.held.has(unit) || this.stopped) continue;
        let revision: number;
        try {
          revision = await this.kv.create(leaseKey(unit), this.options.workerId);
        } catch {
          continue; // still held by its previous owner: it gives it up, or its lease expires
        }
        this.held.set(unit, revision);
        await this.options.onAcquire(unit);
      }
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  private async giveUp(unit: string, reason: 'rebalance' | 'shutdown'): Promise<void> {
    const revision = this.held.get(unit);
    this.held.delete(unit);
    await this.options.onRelease(unit, reason);
    if (revision !== undefined) {
      await this.kv.delete(leaseKey(unit), { previousSeq: revision }).catch(() => {});
    }
  }
}

function leaseKey(unit: string): string {
  return `lease.${unit}`;
}

function heartbeatKey(workerId: string): string {
  return `worker.${workerId}`;
}
