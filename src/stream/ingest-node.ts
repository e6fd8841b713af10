import { connect, type NatsConnection } from '@nats-io/transport-node';
import { NatsBus } from '../bus/nats/nats-bus.js';
import type { ProductEvent } from '../core/events/event.js';
import { ensureEventStream } from './event-stream.js';
import { IngestPublisher } from './ingest-publisher.js';
import type { StreamConfig } from './stream-config.js';

/** What `pql serve --role ingest` adds to the HTTP server: the JetStream publisher and the NATS bus. */
export interface IngestNode {
  /** The server's ingest port: publish to JetStream and resolve once acknowledged. */
  readonly publishEvents: (events: readonly ProductEvent[], receivedAt: number) => Promise<void>;
  /** The live-PQL bus over NATS, so this node's /api/stream shows what every worker detects. */
  readonly bus: NatsBus;
  readonly connection: NatsConnection;
  close(): Promise<void>;
}

/** Connects to NATS, ensures the event stream and returns the ingest node's publisher and bus. */
export async function openIngestNode(
  config: StreamConfig,
  onError: (error: unknown) => void = () => {},
): Promise<IngestNode> {
  const connection = await connect({
    servers: [...config.servers],
    name: 'pql-ingest',
    // Through a NATS restart requests fail with 503 (retryable) until the connection is back.
    maxReconnectAttempts: -1,
  });
  await ensureEventStream(connection, config.topology);
  const publisher = new IngestPublisher(connection, config.topology);
  const bus = await NatsBus.connect({
    servers: config.servers,
    subjectPrefix: config.topology.subjectPrefix,
    onError,
  });
  return {
    publishEvents: async (events, receivedAt) => {
      await publisher.publish(events, receivedAt);
    },
    bus,
    connection,
    async close() {
      await bus.close();
      await connection.drain().catch(() => {});
    },
  };
}
