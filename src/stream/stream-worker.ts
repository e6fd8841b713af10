import { jetstream, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { PqlBus } from '../bus/pql-bus.js';
import type { VersionedDefinition } from '../core/definitions/definition.js';
import { parseEvent } from '../core/events/parse-event.js';
import type { DetectorOptions } from '../runtime/detector.js';
import type { Store } from '../store/store.js';
import { EngineStage } from './engine-stage.js';
import { ArrivalOrderBuffer } from './arrival-order-buffer.js';
import {
  accountStreamName,
  accountSubject,
  ensureEventStream,
  userSubject,
  type EventStreamTopology,
} from './event-stream.js';
import { IdentityStage, type AccountMessage } from './identity-stage.js';
import { RECEIVED_AT_HEADER } from './ingest-publisher.js';
import { PartitionLeases } from './partition-leases.js';
import { PartitionRunner, type PartitionHandler } from './partition-runner.js';
import { partitionOf } from './partitioning.js';

/** What a stream worker needs. */
export interface StreamWorkerOptions {
  readonly connection: NatsConnection;
  readonly topology: EventStreamTopology;
  readonly store: Store;
  /** Definitions already registered in the store (with their versions). */
  readonly definitions: readonly VersionedDefinition[];
  readonly workerId: string;
  readonly allowedLatenessMs?: number;
  readonly alerting?: DetectorOptions['alerting'];
  readonly bus?: PqlBus;
  /** Lease TTL and renewal period (defaults 10 s and 2 s). */
  readonly leaseTtlMs?: number;
  readonly leaseRenewMs?: number;
  /** Messages per batch (default 1,000). */
  readonly batchSize?: number;
  readonly log?: (message: string, fields?: Record<string, unknown>) => void;
  /** A failure, with the unit (`user.3`) whose partition restarts because of it, when there is one. */
  readonly onError?: (error: unknown, unit?: string) => void;
}

/**
 * A user partition's progress as sent to every account partition: each of its messages up to user-stream
 * sequence `through` is resolved and republished; `time` is the latest event time among them.
 */
interface PartitionMark {
  readonly mark: number;
  readonly through: number;
  readonly time: number;
}

/** An account message as it travels: the message and its arrival position (see ArrivalOrderBuffer). */
interface OrderedAccountMessage extends AccountMessage {
  readonly order: number;
  readonly sub: number;
}

/** Counters of a worker. */
export interface StreamWorkerStats {
  userEvents: number;
  accountEvents: number;
  pqls: number;
}

/**
 * A scale-out worker: holds leases on some user and account partitions and runs, for each user
 * partition, the identity stage (republishing attributed events to their account's partition with
 * `Nats-Msg-Id` = `acct:<messageId>`) and, for each account partition, the engine stage writing to the
 * shared store. Units move between workers as they come and go (see PartitionLeases).
 */
export class StreamWorker {
  private readonly runners = new Map<string, PartitionRunner>();
  private readonly js: JetStreamClient;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  private leases: PartitionLeases | undefined;
  readonly stats: StreamWorkerStats = { userEvents: 0, accountEvents: 0, pqls: 0 };

  private constructor(
    private readonly options: StreamWorkerOptions,
    private readonly jsm: JetStreamManager,
  ) {
    this.js = jetstream(options.connection, { timeout: 10_000 });
  }

  /** Ensures the stream, joins the lease group and starts the units this worker is assigned. */
  static async start(options: StreamWorkerOptions): Promise<StreamWorker> {
    const jsm = await ensureEventStream(options.connection, options.topology);
    const worker = new StreamWorker(options, jsm);
    const units: string[] = [];
    for (let p = 0; p < options.topology.partitions; p++) units.push(`user.${p}`, `acct.${p}`);
    worker.leases = await PartitionLeases.open(options.connection, {
      bucket: `${options.topology.stream}_leases`,
      workerId: options.workerId,
      units,
      ...(options.leaseTtlMs === undefined ? {} : { ttlMs: options.leaseTtlMs }),
      ...(options.leaseRenewMs === undefined ? {} : { renewMs: options.leaseRenewMs }),
      onAcquire: (unit) => worker.startUnit(unit),
      onRelease: (unit, reason) => worker.stopUnit(unit, reason),
      ...(options.onError === undefined ? {} : { onError: options.onError }),
    });
    await worker.leases.start();
    return worker;
  }

  /** Units (`user.<p>`, `acct.<p>`) this worker runs now. */
  units(): readonly string[] {
    return [...this.runners.keys()].sort();
  }

  /** Stops every unit after its batch in progress and gives the leases back. */
  async stop(): Promise<void> {
    await this.leases?.stop();
  }

  private async startUnit(unit: string): Promise<void> {
    const [kind, p] = unit.split('.') as ['user' | 'acct', string];
    const partition = Number(p);
    const createHandler = async (): Promise<PartitionHandler> =>
      kind === 'user' ? this.userHandler(partition) : await this.accountHandler(partition);
    const topology = this.options.topology;
    const runner = new PartitionRunner(
      this.options.connection,
      this.jsm,
      {
        stream: kind === 'user' ? topology.stream : accountStreamName(topology),
        subject: kind === 'user' ? userSubject(topology, partition) : accountSubject(topology, partition),
        durable: `${kind}-${partition}`,
        mayRun: async () => (await this.leases?.holds(unit)) ?? false,
        ...(this.options.batchSize === undefined ? {} : { batchSize: this.options.batchSize }),
        onError: (error) => this.options.onError?.(error, unit),
      },
      createHandler,
    );
    this.runners.set(unit, runner);
    this.options.log?.('partition acquired', { unit, workerId: this.options.workerId });
    runner.start();
  }

  private async stopUnit(unit: string, reason: string): Promise<void> {
    const runner = this.runners.get(unit);
    this.runners.delete(unit);
    await runner?.stop();
    this.options.log?.('partition released', { unit, reason, workerId: this.options.workerId });
  }

  /**
   * The identity stage of a user partition: resolve, republish by account (each message with the
   * user-stream sequence it came from, its arrival position), then acknowledge; after each batch and each
   * empty pull, mark every account partition with the sequence through which this partition is done
   * (after the republished events, so a mark follows what it covers).
   */
  private userHandler(partition: number): PartitionHandler {
    const stage = new IdentityStage();
    let latest = Number.NEGATIVE_INFINITY;
    let marked = 0;
    const resolve = (message: JsMsg): readonly OrderedAccountMessage[] => {
      const body = this.decoder.decode(message.data);
      const parsed = parseEvent(JSON.parse(body));
      if (!parsed.ok) return []; // the ingest node validated it; nothing else writes here
      if (parsed.value.timestamp > latest) latest = parsed.value.timestamp;
      const receivedAt = Number(message.headers?.get(RECEIVED_AT_HEADER) ?? '') || 0;
      return stage
        .resolve(parsed.value, body, receivedAt)
        .map((out, sub) => ({ ...out, order: message.seq, sub }));
    };
    return {
      replay: (messages) => {
        for (const message of messages) resolve(message);
      },
      endReplay: async () => {},
      process: async (messages) => {
        const acks: Promise<unknown>[] = [];
        for (const message of messages) {
          for (const out of resolve(message)) acks.push(this.publishAccountMessage(out));
        }
        this.stats.userEvents += messages.length;
        await Promise.all(acks);
        return undefined;
      },
      progressed: async (through) => {
        if (through <= marked) return;
        await this.publishMarks({ mark: partition, through, time: latest });
        marked = through;
      },
    };
  }

  /** Sends a user partition's progress mark to every account partition. */
  private async publishMarks(mark: PartitionMark): Promise<void> {
    const data = this.encoder.encode(JSON.stringify(mark));
    const { partitions } = this.options.topology;
    await Promise.all(
      Array.from({ length: partitions }, (_, p) =>
        this.js.publish(accountSubject(this.options.topology, p), data),
      ),
    );
  }

  private publishAccountMessage(message: OrderedAccountMessage): Promise<unknown> {
    const { partitions } = this.options.topology;
    const subject = accountSubject(this.options.topology, partitionOf(message.event.accountId, partitions));
    const h = natsHeaders();
    h.set(RECEIVED_AT_HEADER, String(message.receivedAt));
    // Derived from the event's id: a replayed or redelivered republish is dropped by JetStream's dedupe.
    return this.js.publish(subject, this.encoder.encode(JSON.stringify(message)), {
      msgID: `acct:${message.event.messageId}`,
      headers: h,
    });
  }

  /** The engine stage of an account partition: write, detect and commit, then acknowledge. */
  private async accountHandler(partition: number): Promise<PartitionHandler> {
    const stage = await EngineStage.open({
      store: this.options.store,
      definitions: this.options.definitions,
      partition,
      partitions: this.options.topology.partitions,
      ...(this.options.allowedLatenessMs === undefined
        ? {}
        : { allowedLatenessMs: this.options.allowedLatenessMs }),
      ...(this.options.alerting === undefined ? {} : { alerting: this.options.alerting }),
      ...(this.options.bus === undefined ? {} : { bus: this.options.bus }),
    });
    const buffer = new ArrivalOrderBuffer<AccountMessage>(this.options.topology.partitions);
    let latestMarked = Number.NEGATIVE_INFINITY;
    // Marks and events go into the buffer; what every user partition has passed comes out in arrival order.
    const feed = (messages: readonly JsMsg[]): AccountMessage[] => {
      for (const m of messages) {
        const decoded = JSON.parse(this.decoder.decode(m.data)) as OrderedAccountMessage | PartitionMark;
        if ('mark' in decoded) {
          buffer.mark(decoded.mark, decoded.through);
          // JSON has no -Infinity: a partition that has seen no event yet sends null.
          if (typeof decoded.time === 'number' && decoded.time > latestMarked) latestMarked = decoded.time;
        } else {
          const { order, sub, ...message } = decoded;
          buffer.add(message, order, sub, m.seq);
        }
      }
      const released = buffer.release();
      // With nothing of this partition waiting, time is as far as the latest event anyone published.
      if (buffer.size === 0) stage.noteEventTime(latestMarked);
      return released;
    };
    return {
      replay: (messages) => stage.replay(feed(messages)),
      endReplay: async () => {
        const found = await stage.endReplay();
        this.stats.pqls += found.filter((t) => t.kind === 'qualified').length;
      },
      process: async (messages) => {
        const released = feed(messages);
        const result = await stage.process(released);
        this.stats.accountEvents += released.length;
        this.stats.pqls += result.transitions.filter((t) => t.kind === 'qualified').length;
        const held = buffer.minSeq();
        return held === undefined ? undefined : held - 1;
      },
    };
  }
}
