import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics of one server, in their own registry (several servers can share a process). */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly eventsAccepted: Counter<'source'>;
  readonly eventsRejected: Counter<'source' | 'reason'>;
  readonly eventsDuplicate: Counter;
  readonly requestDuration: Histogram<'method' | 'route' | 'status'>;
  readonly detectionLatency: Histogram;
  readonly pqls: Counter<'definition'>;
  readonly queueDepth: Gauge;
  readonly stripeEvents: Counter<'outcome'>;

  constructor(queueDepth: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.eventsAccepted = new Counter({
      name: 'pql_events_accepted_total',
      help: 'Events accepted and durably stored (duplicates included), by source',
      labelNames: ['source'],
      registers,
    });
    this.eventsRejected = new Counter({
      name: 'pql_events_rejected_total',
      help: 'Events rejected, by source and reason code',
      labelNames: ['source', 'reason'],
      registers,
    });
    this.eventsDuplicate = new Counter({
      name: 'pql_events_duplicate_total',
      help: 'Accepted events that were already stored (same messageId)',
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'pql_http_request_duration_seconds',
      help: 'HTTP request latency, from receipt to response',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.detectionLatency = new Histogram({
      name: 'pql_detection_latency_seconds',
      help: 'From receipt of the request carrying the triggering event to the committed PQL',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.pqls = new Counter({
      name: 'pql_pqls_total',
      help: 'New PQLs committed, by definition',
      labelNames: ['definition'],
      registers,
    });
    this.stripeEvents = new Counter({
      name: 'pql_stripe_events_total',
      help: 'Stripe webhook deliveries, by outcome (applied, duplicate, unhandled, invalid, bad_signature)',
      labelNames: ['outcome'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'pql_commit_queue_events',
      help: 'Events admitted and waiting for a commit',
      registers,
      collect() {
        this.set(queueDepth());
      },
    });
  }
}
