import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** What a runner does with its partition's messages. */
export interface PartitionHandler {
  /** Rebuilds state from messages an earlier owner already acknowledged (nothing may be written). */
  replay(messages: readonly JsMsg[]): void;
  /** Called once the replay reached the acknowledged floor, before the first live batch. */
  endReplay(): Promise<void>;
  /** Processes new messages in order; the runner acknowledges them once this resolves. */
  process(messages: readonly JsMsg[]): Promise<void>;
}

/** Options of a partition runner. */
export interface PartitionRunnerOptions {
  readonly stream: string;
  /** The partition's subject, e.g. `pql.acct.3`. */
  readonly subject: string;
  /** The durable consumer's name, e.g. `acct-3`; one per partition, shared by successive owners. */
  readonly durable: string;
  /** Most messages per batch (default 1,000). */
  readonly batchSize?: number;
  readonly onError?: (error: unknown) => void;
}

const NANOS_PER_MS = 1_000_000;

/**
 * Runs one partition for the worker holding its lease: on start it reads the durable consumer's
 * acknowledged floor (the previous owner's last acknowledged message), replays the partition up to it to
 * rebuild state, recreates the consumer to deliver from the next message (so nothing a dead owner had in
 * flight is redelivered out of order), then pulls batches in order, acknowledging each after `process`.
 */
export class PartitionRunner {
  private readonly js: JetStreamClient;
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** Stream sequence of the last message processed and acknowledged by this runner. */
  lastSeq = 0;

  constructor(
    connection: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: PartitionRunnerOptions,
    private readonly handler: PartitionHandler,
  ) {
    this.js = jetstream(connection);
  }

  /** Starts replay and the pull loop in the background. */
  start(): void {
    this.loop = this.run().catch((error: unknown) => this.options.onError?.(error));
  }

  /** Stops after the batch in progress is processed and acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    const floor = await this.takeOverConsumer();
    if (floor > 0) await this.replayUpTo(floor);
    await this.handler.endReplay();
    this.lastSeq = floor;
    const consumer = await this.js.consumers.get(this.options.stream, this.options.durable);
    const max = this.options.batchSize ?? 1000;
    while (!this.stopping) {
      let batch: JsMsg[] = [];
      try {
        const messages = await consumer.fetch({ max_messages: max, expires: 1000 });
        for await (const message of messages) batch.push(message);
      } catch (error) {
        // A NATS restart or a lost connection: keep what arrived, retry after a pause.
        this.options.onError?.(error);
        if (batch.length === 0) {
          await pause(500);
          continue;
        }
      }
      // Redeliveries of something already processed by this runner (an acknowledgement lost) are skipped.
      batch = batch.filter((m) => m.seq > this.lastSeq);
      if (batch.length === 0) continue;
      await this.handler.process(batch);
      const last = batch[batch.length - 1] as JsMsg;
      // AckPolicy.All: acknowledging the last one acknowledges the batch; wait for the server to have it.
      await ackWithRetry(last, () => this.stopping);
      this.lastSeq = last.seq;
    }
  }

  /**
   * Reads the acknowledged floor of the partition's durable consumer and recreates the consumer to start
   * right after it; returns the floor (0 when the partition was never consumed).
   */
  private async takeOverConsumer(): Promise<number> {
    let floor = 0;
    try {
      const info = await this.jsm.consumers.info(this.options.stream, this.options.durable);
      floor = info.ack_floor.stream_seq;
      // A consumer created to start at N+1 reports floor N only once something is acknowledged.
      const start = info.config.opt_start_seq;
      if (floor === 0 && start !== undefined && start > 1) floor = start - 1;
      await this.jsm.consumers.delete(this.options.stream, this.options.durable);
    } catch (error) {
      if (!/consumer not found/i.test(String(error))) throw error;
    }
    await this.jsm.consumers.add(this.options.stream, {
      durable_name: this.options.durable,
      filter_subject: this.options.subject,
      ack_policy: AckPolicy.All,
      ack_wait: 60_000 * NANOS_PER_MS,
      max_ack_pending: 10_000,
      ...(floor > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    return floor;
  }

  /** Feeds the handler every kept message of the subject up to stream sequence `floor`. */
  private async replayUpTo(floor: number): Promise<void> {
    const info = await this.jsm.consumers.add(this.options.stream, {
      filter_subject: this.options.subject,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 60_000 * NANOS_PER_MS,
    });
    try {
      const consumer = await this.js.consumers.get(this.options.stream, info.name);
      let done = false;
      while (!done) {
        const batch: JsMsg[] = [];
        const messages = await consumer.fetch({ max_messages: 5000, expires: 1000 });
        for await (const message of messages) {
          if (message.seq > floor) {
            done = true;
            break;
          }
          batch.push(message);
          if (message.seq === floor) done = true;
        }
        if (batch.length === 0) break; // the rest aged out of the stream: replay what is kept
        this.handler.replay(batch);
      }
    } finally {
      await this.jsm.consumers.delete(this.options.stream, info.name).catch(() => {});
    }
  }
}

async function ackWithRetry(message: JsMsg, giveUp: () => boolean): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      if (await message.ackAck({ timeout: 5000 })) return;
    } catch {
      // retried below
    }
    // Not acknowledged: the next owner (or this runner) sees these again and the writes are idempotent.
    if (giveUp() || attempt >= 10) return;
    await pause(500);
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
