import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { createAlerting, loadReps } from '../alerts/alerting-runtime.js';
import { NatsBus } from '../bus/nats/nats-bus.js';
import { loadAlertingSettings } from '../config/alerting-settings.js';
import { formatDefinitionFileProblem } from '../config/definition-files.js';
import { loadServerConfig, ServerConfigError, type ServeFlags } from '../config/server-config.js';
import type { VersionedDefinition } from '../core/definitions/definition.js';
import { DefinitionCatalog } from '../runtime/definition-catalog.js';
import { openStore } from '../store/open-store.js';
import { streamConfigFromEnv, StreamConfigError } from '../stream/stream-config.js';
import { StreamWorker } from '../stream/stream-worker.js';
import { CliInputError, definitionsPath, type CliIo } from './main.js';

/** What `runWorker` can be given beyond flags (tests). */
export interface WorkerExtras {
  /** Resolves when the worker should stop; SIGINT/SIGTERM otherwise. */
  readonly stop?: Promise<unknown>;
}

/**
 * `pql serve --role worker`: joins the scale-out workers on NATS JetStream, runs the identity and engine
 * stages of the partitions it leases against the shared PostgreSQL store, and delivers alerts from the
 * shared outbox, until SIGINT/SIGTERM; then finishes its batches and gives its leases back.
 */
export async function runWorker(flags: ServeFlags, io: CliIo, extras: WorkerExtras = {}): Promise<void> {
  let config;
  let settings;
  let stream;
  try {
    config = loadServerConfig(flags).config;
    settings = loadAlertingSettings(flags.config);
    stream = streamConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof ServerConfigError || error instanceof StreamConfigError)
      throw new CliInputError(error.message);
    throw error;
  }
  if (config.store === undefined || !/^postgres(ql)?:\/\//.test(config.store.trim())) {
    throw new CliInputError(
      'pql serve --role worker: workers share one PostgreSQL store; set PQL_STORE (or store: in pql.yaml) to a postgres:// URL',
    );
  }
  const opened = await DefinitionCatalog.open(definitionsPath(config.definitions));
  if (!opened.ok) throw new CliInputError(opened.problems.map(formatDefinitionFileProblem).join('\n'));
  const logger = pino({ level: process.env['PQL_LOG_LEVEL'] ?? 'info', base: { service: 'pql-worker' } });
  const alerting = createAlerting(
    {
      ...settings.alerting,
      dashboardUrl: settings.alerting.dashboardUrl ?? `http://localhost:${config.port}`,
    },
    await loadReps(config.dataDir),
    settings.routing,
  );
  for (const warning of alerting?.routeWarnings(opened.catalog.definitions.map((d) => d.definition)) ?? [])
    logger.warn({ definitionId: warning.definitionId, channel: warning.channel }, warning.message);
  const workerId = process.env['PQL_WORKER_ID'] ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const store = await openStore(config);
  const connection = await connect({
    servers: [...stream.servers],
    name: `pql-worker-${workerId}`,
    // A NATS restart must not end the worker: it reconnects and its runners retry.
    maxReconnectAttempts: -1,
  });
  logConnectionStatus(connection, logger).catch((error: unknown) =>
    logger.warn({ err: error }, 'nats connection status'),
  );
  const bus = await NatsBus.connect({
    servers: stream.servers,
    subjectPrefix: stream.topology.subjectPrefix,
    nodeId: workerId,
    onError: (error) => logger.warn({ err: error }, 'live-PQL bus'),
  });
  const delivery = alerting?.createWorker(store);
  let worker: StreamWorker | undefined;
  try {
    const definitions: VersionedDefinition[] = [];
    for (const item of opened.catalog.definitions) {
      const version = await store.registerDefinition(
        item.definition.id,
        item.definition.contentHash,
        item.sourceText,
        Date.now(),
      );
      definitions.push({ definition: item.definition, version });
    }
    worker = await StreamWorker.start({
      connection,
      topology: stream.topology,
      store,
      definitions,
      workerId,
      allowedLatenessMs: config.allowedLatenessMs,
      ...(alerting === undefined ? {} : { alerting: alerting.detectorOption }),
      bus,
      ...leaseTimingFromEnv(),
      log: (message, fields) => logger.info(fields ?? {}, message),
      onError: (error, unit) => logger.warn({ err: error, unit }, 'stream worker'),
    });
    delivery?.start();
    io.out(
      `pql worker ${workerId}: ${definitions.length} definitions, ${stream.topology.partitions} partitions on stream ${stream.topology.stream} (${stream.servers.join(',')})`,
    );
    io.out(
      alerting === undefined
        ? 'alerts: no channel configured; PQLs are still detected and stored'
        : `alerts: delivering to ${alerting.channelNames.join(', ')}`,
    );
    await (extras.stop ??
      new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }));
    io.out(`pql worker ${workerId}: stopping (finishing batches, giving leases back)`);
  } finally {
    await worker?.stop();
    await delivery?.stop();
    await bus.close();
    await connection.drain().catch(() => {});
    await store.close();
  }
}

/** Logs the NATS connection's disconnects, reconnects and errors (a slow consumer, say) as they happen. */
async function logConnectionStatus(connection: NatsConnection, logger: Logger): Promise<void> {
  for await (const status of connection.status()) {
    if (status.type === 'disconnect' || status.type === 'reconnect' || status.type === 'error') {
      logger.warn(
        { nats: status.type, detail: String('error' in status ? status.error : status.server) },
        'nats connection',
      );
    }
  }
}

/** PQL_LEASE_TTL_MS and PQL_LEASE_RENEW_MS (defaults 10 s and 2 s). */
function leaseTimingFromEnv(): { leaseTtlMs?: number; leaseRenewMs?: number } {
  const ttl = Number(process.env['PQL_LEASE_TTL_MS'] ?? '');
  const renew = Number(process.env['PQL_LEASE_RENEW_MS'] ?? '');
  return {
    ...(ttl > 0 ? { leaseTtlMs: ttl } : {}),
    ...(renew > 0 ? { leaseRenewMs: renew } : {}),
  };
}
