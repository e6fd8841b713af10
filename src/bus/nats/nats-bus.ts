import { randomUUID } from 'node:crypto';
import {
  connect,
  headers as natsHeaders,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { InProcessBus } from '../in-process-bus.js';
import type { PqlBus, PqlListener, PublishedTransition } from '../pql-bus.js';

/** Options for connecting a NATS-backed PQL bus. */
export interface NatsBusOptions {
  /** NATS server(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | readonly string[];
  /** Subject prefix shared by the nodes of one deployment (default `pql`); PQLs go to `<prefix>.pqls`. */
  readonly subjectPrefix?: string;
  /** This node's id, to recognize its own messages (default: a random UUID). */
  readonly nodeId?: string;
  /** Called with errors of listeners, malformed messages and the connection; defaults to ignoring them. */
  readonly onError?: (error: unknown) => void;
}

/** Thrown when the bus options are unusable, naming the field. */
export class NatsBusConfigError extends Error {
  /** Creates the error for option `field`. */
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`NATS bus: ${field}: ${message}`);
    this.name = 'NatsBusConfigError';
  }
}

const NODE_HEADER = 'Pql-Node';

/**
 * The live-PQL bus across nodes, over NATS core pub/sub: `publish` hands the transitions to this node's
 * subscribers at once (as the in-process bus does) and sends them to `<prefix>.pqls`, where every other
 * node's bus receives them and hands them to its own subscribers, so each node's `/api/stream` sees every
 * PQL. Delivery between nodes is at most once (a node that is disconnected misses what was published
 * meanwhile), which is what a live view needs: the store, not the bus, is the record of PQLs.
 */
export class NatsBus implements PqlBus {
  private readonly local: InProcessBus;
  private readonly subject: string;
  private readonly encoder = new TextEncoder();
  private readonly decoder = new TextDecoder();
  private pump: Promise<void> | undefined;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly subscription: Subscription,
    subjectPrefix: string,
    /** This node's id, carried in a header on everything it publishes. */
    readonly nodeId: string,
    private readonly onError: (error: unknown) => void,
  ) {
    this.local = new InProcessBus(onError);
    this.subject = `${subjectPrefix}.pqls`;
    this.pump = this.receive();
  }

  /** Connects to NATS and subscribes to the deployment's PQL subject; resolves once the subscription is live. */
  static async connect(options: NatsBusOptions): Promise<NatsBus> {
    const prefix = options.subjectPrefix ?? 'pql';
    if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix)) {
      throw new NatsBusConfigError(
        'subjectPrefix',
        `expected dot-separated tokens of letters, digits, _ and -, got ${JSON.stringify(prefix)}`,
      );
    }
    const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
    if (servers.length === 0) throw new NatsBusConfigError('servers', 'expected at least one server');
    const connection = await connect({
      servers,
      name: 'pql-bus',
      // Keep trying forever: a NATS restart must not take the HTTP node down with it.
      maxReconnectAttempts: -1,
    });
    const subscription = connection.subscribe(`${prefix}.pqls`);
    // The server has the subscription once a round trip after it completes.
    await connection.flush();
    return new NatsBus(
      connection,
      subscription,
      prefix,
      options.nodeId ?? randomUUID(),
      options.onError ?? (() => {}),
    );
  }

  publish(published: readonly PublishedTransition[]): void {
    if (published.length === 0) return;
    this.local.publish(published);
    this.send(published);
  }

  /** Sends in messages that fit the server's payload limit, splitting a large batch in order. */
  private send(published: readonly PublishedTransition[]): void {
    const body = this.encoder.encode(JSON.stringify(published));
    const limit = this.connection.info?.max_payload ?? 1024 * 1024;
    if (body.length > limit - 1024 && published.length > 1) {
      const half = Math.ceil(published.length / 2);
      this.send(published.slice(0, half));
      this.send(published.slice(half));
      return;
    }
    const h = natsHeaders();
    h.set(NODE_HEADER, this.nodeId);
    try {
      this.connection.publish(this.subject, body, { headers: h });
    } catch (error) {
      // Closed or over the limit even alone: the local subscribers have it; remote ones miss it.
      this.onError(error);
    }
  }

  private async receive(): Promise<void> {
    for await (const message of this.subscription) {
      if (message.headers?.get(NODE_HEADER) === this.nodeId) continue; // already handed out locally
      let published: PublishedTransition[];
      try {
        published = JSON.parse(this.decoder.decode(message.data)) as PublishedTransition[];
        if (!Array.isArray(published)) throw new TypeError(`${this.subject}: expected a JSON array`);
      } catch (error) {
        this.onError(error);
        continue;
      }
      this.local.publish(published);
    }
  }

  subscribe(listener: PqlListener): () => void {
    return this.local.subscribe(listener);
  }

  subscriberCount(): number {
    return this.local.subscriberCount();
  }

  /** Sends what is buffered, unsubscribes and closes the connection. */
  async close(): Promise<void> {
    if (this.connection.isClosed()) return;
    await this.connection.drain();
    await this.pump;
    this.pump = undefined;
  }
}
