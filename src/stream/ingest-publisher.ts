import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import type { ProductEvent } from '../core/events/event.js';
import { serializeEvent } from '../core/events/parse-event.js';
import { userSubject, type EventStreamTopology } from './event-stream.js';
import { partitionOf, userKeyOf } from './partitioning.js';

/** Header carrying the wall-clock time the ingest node received the event (epoch ms), for latency. */
export const RECEIVED_AT_HEADER = 'Pql-Received-At';

/** What one publish did: events JetStream stored, and repeats it dropped by `Nats-Msg-Id`. */
export interface PublishResult {
  readonly stored: number;
  readonly duplicates: number;
}

/**
 * Publishes accepted events to the user-partitioned subjects (`hash(userId or anonymousId) mod P`) with
 * `Nats-Msg-Id` = messageId, and resolves only once JetStream acknowledged every one of them (stored on
 * its disk), so an HTTP answer after it means the events are durable. A repeat inside the stream's
 * duplicate window is acknowledged as a duplicate and stored once.
 */
export class IngestPublisher {
  private readonly js: JetStreamClient;
  private readonly encoder = new TextEncoder();

  constructor(
    connection: NatsConnection,
    private readonly topology: EventStreamTopology,
    /** How long to wait for JetStream's acknowledgement of one message. */
    private readonly timeoutMs = 10_000,
  ) {
    this.js = jetstream(connection, { timeout: timeoutMs });
  }

  /** Publishes `events` in parallel; rejects if any was not acknowledged (the client should retry all). */
  async publish(events: readonly ProductEvent[], receivedAt: number): Promise<PublishResult> {
    const received = String(receivedAt);
    const acks = await Promise.all(
      events.map((event) => {
        const h = natsHeaders();
        h.set(RECEIVED_AT_HEADER, received);
        const subject = userSubject(this.topology, partitionOf(userKeyOf(event), this.topology.partitions));
        return this.js.publish(subject, this.encoder.encode(serializeEvent(event)), {
          msgID: event.messageId,
          headers: h,
          timeout: this.timeoutMs,
        });
      }),
    );
    let duplicates = 0;
    for (const ack of acks) if (ack.duplicate) duplicates++;
    return { stored: acks.length - duplicates, duplicates };
  }
}
