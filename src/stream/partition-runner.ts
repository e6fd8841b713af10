import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type Consumer,
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
  /**
   * Processes new messages in order; resolves to the highest stream sequence whose messages are all done
   * (the runner acknowledges up to it), or undefined for all of them. A handler that holds messages back
   * (the account stage's event-time buffer) names the position before the oldest one it holds.
   */
  process(messages: readonly JsMsg[]): Promise<number | undefined>;
  /**
   * Called after each batch and each pull that found nothing new, with the stream sequence through which
   * every message of the partition is processed (the stream's last sequence when the partition has caught
   * up, else the batch's last): the identity stage marks the account partitions with it.
   */
  progressed?(through: number): Promise<void>;
}

/** Options of a partition runner. */
export interface PartitionRunnerOptions {
  readonly stream: string;
  /** The partition's subject, e.g. `pql.acct.3`. */
  readonly subject: string;
  /**
   * The partition's durable consumer name prefix, e.g. `acct-3`: each owner creates its own consumer
   * `acct-3_<epoch>` and deletes its predecessors', so a runner that lost its lease but has not stopped yet
   * pulls from a deleted consumer and gets nothing, instead of taking messages from the new owner's.
   */
  readonly durable: string;
  /** Most messages per batch (default 1,000). */
  readonly batchSize?: number;
  /**
   * Checked before every (re)start: false while another worker holds the partition's lease. The runner
   * then waits and checks again (until stopped) instead of taking the partition back: a worker that lost
   * its lease in a long pause, and has not noticed yet, must not delete its successor's consumer.
   */
  readonly mayRun?: () => Promise<boolean>;
  readonly onError?: (error: unknown) => void;
}

const NANOS_PER_MS = 1_000_000;
/** How long a pull waits for messages, and when one still open is given up as hung. */
const PULL_EXPIRES_MS = 1000;
const PULL_DEADLINE_MS = 15_000;
/** How long a failed partition waits before it starts again from its acknowledged floor. */
const RESTART_PAUSE_MS = 1000;

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
  /** The durable consumer this runner created for its partition. */
  private durable = '';

  constructor(
    connection: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: PartitionRunnerOptions,
    /** Makes the handler: a fresh one for every (re)start, whose state the replay then rebuilds. */
    private readonly createHandler: () => Promise<PartitionHandler>,
  ) {
    this.js = jetstream(connection);
  }

  /**
   * Starts replay and the pull loop in the background. Any failure (a publish or commit that failed, a
   * NATS restart, a pull that lost deliveries) restarts the partition from its acknowledged floor with a
   * fresh handler after a pause: the work after the floor is done again against idempotent writes, and
   * nothing is acknowledged past what was really processed.
   */
  start(): void {
    this.loop = (async () => {
      while (!this.stopping) {
        try {
          if (this.options.mayRun !== undefined && !(await this.options.mayRun())) {
            await pause(RESTART_PAUSE_MS);
            continue;
          }
          await this.run(await this.createHandler());
          return;
        } catch (error) {
          this.options.onError?.(error);
          if (!this.stopping) await pause(RESTART_PAUSE_MS);
        }
      }
    })();
  }

  /** Stops after the batch in progress is processed and acknowledged. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  private async run(handler: PartitionHandler): Promise<void> {
    const floor = await this.takeOverConsumer();
    if (floor > 0) await this.replayUpTo(floor, handler);
    await handler.endReplay();
    this.lastSeq = floor;
    const consumer = await this.js.consumers.get(this.options.stream, this.durable);
    const max = this.options.batchSize ?? 1000;
    const unacked: JsMsg[] = [];
    // The consumer is new, so its deliveries are numbered from 1; a number skipped is a delivery that went
    // to a connection that is gone (a NATS restart), which an acknowledgement must never cover.
    let nextDelivery = 1;
    while (!this.stopping) {
      const batch: JsMsg[] = [];
      for (const message of await this.pull(consumer, this.durable, max)) {
        if (message.info.deliverySequence !== nextDelivery) {
          throw new Error(
            `${this.options.subject}: delivery ${message.info.deliverySequence} after ${nextDelivery - 1}: deliveries were lost, restarting from the acknowledged floor`,
          );
        }
        nextDelivery++;
        // Redeliveries of something this runner already has (held back, or an acknowledgement lost) are skipped.
        const newest = batch.length > 0 ? (batch[batch.length - 1] as JsMsg).seq : this.lastSeq;
        if (message.seq > newest) batch.push(message);
      }
      if (batch.length > 0) {
        const done = await handler.process(batch);
        for (const message of batch) unacked.push(message);
        this.lastSeq = (batch[batch.length - 1] as JsMsg).seq;
        const through = done ?? this.lastSeq;
        let last: JsMsg | undefined;
        while (unacked.length > 0 && (unacked[0] as JsMsg).seq <= through) last = unacked.shift();
        // AckPolicy.All: acknowledging one acknowledges everything before it; wait for the server to have it.
        if (last !== undefined) await ackWithRetry(last, () => this.stopping, this.options.onError);
      }
      if (handler.progressed !== undefined) {
        const caughtUp = await this.caughtUpThrough().catch((error: unknown) => {
          this.options.onError?.(error);
          return undefined;
        });
        const through = Math.max(caughtUp ?? 0, this.lastSeq);
        if (through > 0) await handler.progressed(through);
      }
    }
  }

  /**
   * One pull of up to `max` messages from the consumer named `name`, waiting at most a second for them. A
   * pull whose heartbeats went missing (this process or the server stalled for a second) ends with what it
   * received and the caller pulls again: a delivery lost meanwhile shows as a gap in the delivery numbers,
   * which restarts the partition; only a consumer that is gone (taken over) is an error then. A pull still
   * open well after its expiry has lost its subscription's bookkeeping (one hung for minutes on a loaded
   * machine, until a later hiccup woke it): it is closed and the partition restarts.
   */
  private async pull(consumer: Consumer, name: string, max: number): Promise<JsMsg[]> {
    const received: JsMsg[] = [];
    const messages = await consumer.fetch({ max_messages: max, expires: PULL_EXPIRES_MS });
    let hung = false;
    const watchdog = setTimeout(() => {
      hung = true;
      messages.close().catch(() => {}); // the loop below ends either way
    }, PULL_DEADLINE_MS);
    try {
      for await (const message of messages) received.push(message);
    } catch (error) {
      if (!/heartbeats missed/i.test(String(error))) throw error;
      await this.jsm.consumers.info(this.options.stream, name);
    } finally {
      clearTimeout(watchdog);
    }
    if (hung) throw new Error(`a pull did not end within ${PULL_DEADLINE_MS} ms; restarting`);
    return received;
  }

  /**
   * The stream's last sequence if this runner has processed every message of its subject up to it, else
   * undefined. The last sequence is read first: when the consumer then has nothing left to deliver, every
   * message of the subject at or below it was delivered, hence processed (the runner is between batches).
   */
  private async caughtUpThrough(): Promise<number | undefined> {
    const last = (await this.jsm.streams.info(this.options.stream)).state.last_seq;
    const info = await this.jsm.consumers.info(this.options.stream, this.durable);
    return info.num_pending === 0 ? last : undefined;
  }

  /**
   * Reads the acknowledged floor of the partition's earlier consumers, creates this runner's own to start
   * right after it and deletes theirs; returns the floor (0 when the partition was never consumed).
   */
  private async takeOverConsumer(): Promise<number> {
    const prefix = this.options.durable;
    let floor = 0;
    const previous: string[] = [];
    for await (const info of this.jsm.consumers.list(this.options.stream)) {
      // A consumer deleted while the list is read (by a runner of another partition) comes back as null.
      const name = (info as typeof info | null)?.config.durable_name;
      if (name === undefined || (name !== prefix && !name.startsWith(`${prefix}_`))) continue;
      previous.push(name);
      let acknowledged = info.ack_floor.stream_seq;
      // A consumer created to start at N+1 reports floor N only once something is acknowledged.
      const start = info.config.opt_start_seq;
      if (acknowledged === 0 && start !== undefined && start > 1) acknowledged = start - 1;
      if (acknowledged > floor) floor = acknowledged;
    }
    this.durable = `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    await this.jsm.consumers.add(this.options.stream, {
      durable_name: this.durable,
      filter_subject: this.options.subject,
      ack_policy: AckPolicy.All,
      ack_wait: 60_000 * NANOS_PER_MS,
      // Unlimited: the account stage holds messages back until the watermark passes them.
      max_ack_pending: -1,
      ...(floor > 0
        ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: floor + 1 }
        : { deliver_policy: DeliverPolicy.All }),
    });
    for (const name of previous) {
      await this.jsm.consumers.delete(this.options.stream, name).catch((error: unknown) => {
        if (!/consumer not found/i.test(String(error))) throw error;
      });
    }
    return floor;
  }

  /** Feeds the handler every kept message of the subject up to stream sequence `floor`. */
  private async replayUpTo(floor: number, handler: PartitionHandler): Promise<void> {
    const info = await this.jsm.consumers.add(this.options.stream, {
      filter_subject: this.options.subject,
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 60_000 * NANOS_PER_MS,
    });
    try {
      const consumer = await this.js.consumers.get(this.options.stream, info.name);
      let done = false;
      let nextDelivery = 1;
      let emptyPulls = 0;
      while (!done) {
        const batch: JsMsg[] = [];
        for (const message of await this.pull(consumer, info.name, 5000)) {
          // A skipped delivery number is a message lost to a dropped connection: the state would be wrong.
          if (message.info.deliverySequence !== nextDelivery++)
            throw new Error(`${this.options.subject}: the replay lost deliveries; restarting`);
          if (message.seq > floor) {
            done = true;
            break;
          }
          batch.push(message);
          if (message.seq === floor) done = true;
        }
        if (batch.length === 0 && !done) {
          // Nothing more at or below the floor is kept (the rest aged out): replay what is kept. An empty
          // pull while messages are still pending is a hiccup, not the end.
          if ((await this.jsm.consumers.info(this.options.stream, info.name)).num_pending === 0) break;
          if (++emptyPulls >= 5) {
            throw new Error(
              `${this.options.subject}: the replay stalled before the acknowledged floor; restarting`,
            );
          }
          continue;
        }
        emptyPulls = 0;
        handler.replay(batch);
      }
    } finally {
      await this.jsm.consumers.delete(this.options.stream, info.name).catch(() => {});
    }
  }
}

/**
 * Acknowledges through `message`, waiting for the server to confirm, a few times. Unconfirmed, it reports
 * and goes on: the next acknowledgement covers this one (AckPolicy.All), and what a next owner sees again
 * is written idempotently.
 */
async function ackWithRetry(
  message: JsMsg,
  giveUp: () => boolean,
  onError: ((error: unknown) => void) | undefined,
): Promise<void> {
  let failure: unknown = 'no confirmation';
  for (let attempt = 1; attempt <= 3 && !giveUp(); attempt++) {
    try {
      if (await message.ackAck({ timeout: 5000 })) return;
    } catch (error) {
      failure = error;
    }
    await pause(500);
  }
  onError?.(
    new Error(`acknowledgement through stream sequence ${message.seq} not confirmed: ${String(failure)}`),
  );
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
