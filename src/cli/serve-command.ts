import { join } from 'node:path';
import { pino } from 'pino';
import { createAlerting, repOfOwner } from '../alerts/alerting-runtime.js';
import type { DeliveryWorker } from '../alerts/delivery-worker.js';
import { loadAlertingSettings } from '../config/alerting-settings.js';
import type { LoadedDefinition } from '../config/definition-files.js';
import { formatDefinitionFileProblem } from '../config/definition-files.js';
import { loadServerConfig, ServerConfigError, type ServeFlags } from '../config/server-config.js';
import { createServer } from '../http/create-server.js';
import { DefinitionCatalog } from '../runtime/definition-catalog.js';
import { Detector, type DetectorOptions } from '../runtime/detector.js';
import { LiveSources } from '../sources/live-sources.js';
import { openStore } from '../store/open-store.js';
import { openIngestNode, type IngestNode } from '../stream/ingest-node.js';
import { streamConfigFromEnv, StreamConfigError } from '../stream/stream-config.js';
import { CliInputError, definitionsPath, type CliIo } from './main.js';

/** What `runServe` prints beyond the defaults (the demo adds its own lines). */
export interface ServeExtras {
  /** Resolves when the server should stop (tests); SIGINT/SIGTERM otherwise. */
  readonly stop?: Promise<unknown>;
  /** Called once listening, with the base URL and the admin token (the demo prints how to open it). */
  readonly onListening?: (url: string, adminToken: string, writeKeys: readonly string[]) => void;
}

/**
 * `pql serve`: opens the embedded store, rebuilds detection state, serves the ingest and read APIs and
 * delivers alerts until SIGINT/SIGTERM, then drains in-flight requests and commits before closing the store.
 */
export async function runServe(flags: ServeFlags, io: CliIo, extras: ServeExtras = {}): Promise<void> {
  let resolved;
  let settings;
  try {
    resolved = loadServerConfig(flags);
    settings = loadAlertingSettings(flags.config);
  } catch (error) {
    if (error instanceof ServerConfigError) throw new CliInputError(error.message);
    throw error;
  }
  const { config, generated } = resolved;
  const opened = await DefinitionCatalog.open(definitionsPath(config.definitions));
  if (!opened.ok) throw new CliInputError(opened.problems.map(formatDefinitionFileProblem).join('\n'));
  const catalog = opened.catalog;
  const logger = pino({ level: process.env['PQL_LOG_LEVEL'] ?? 'info', base: { service: 'pql' } });
  // CRM companies and owners and Stripe events received earlier (webhooks, upserts, `pql import`).
  const sources = await LiveSources.open(config.dataDir);
  const alerting = createAlerting(
    {
      ...settings.alerting,
      dashboardUrl: settings.alerting.dashboardUrl ?? `http://localhost:${config.port}`,
    },
    sources.owners().map(repOfOwner),
    settings.routing,
  );
  // A definition routed to a channel nobody configured would be detected but never alerted: say so now.
  for (const warning of alerting?.routeWarnings(catalog.definitions.map((d) => d.definition)) ?? [])
    logger.warn({ definitionId: warning.definitionId, channel: warning.channel }, warning.message);
  // An owners upsert (`POST /api/crm/owners`) routes the next PQL with the new reps.
  sources.onOwnersChanged((owners) => alerting?.updateReps(owners.map(repOfOwner)));
  const store = await openStore(config);
  let worker: DeliveryWorker | undefined;
  // --role ingest: events go to JetStream and the workers detect (docs/scale-out.md).
  let ingest: IngestNode | undefined;
  try {
    if (flags.role === 'ingest')
      ingest = await openIngestNode(ingestStreamConfig(), (e) => logger.warn({ err: e }, 'bus'));
    const detectorOptions: DetectorOptions = {
      allowedLatenessMs: config.allowedLatenessMs,
      ...(alerting === undefined ? {} : { alerting: alerting.detectorOption }),
    };
    const reopen = (definitions: readonly LoadedDefinition[]): Promise<Detector> =>
      Detector.open(store, definitions, detectorOptions);
    const detector = await reopen(catalog.definitions);
    const server = createServer({
      detector,
      config,
      logger,
      catalog,
      reopen,
      sources,
      ...(ingest === undefined ? {} : { publishEvents: ingest.publishEvents, bus: ingest.bus }),
    });
    const url = await server.listen();
    // An ingest node leaves alert delivery to the workers.
    worker = ingest === undefined ? alerting?.createWorker(store) : undefined;
    worker?.start();
    // A commit that made a PQL also committed its outbox rows: send them now rather than at the next poll.
    const delivering = worker;
    if (delivering !== undefined)
      server.bus.subscribe((published) => {
        if (published.some((p) => p.transition.kind === 'qualified')) delivering.wake();
      });
    io.out(
      `pql serve: listening on ${url} (${catalog.definitions.length} definitions from ${catalog.path}, data in ${config.dataDir})`,
    );
    io.out(
      config.stripeWebhookSecret === undefined
        ? 'sources: CRM upserts at /api/crm/companies and /api/crm/owners; Stripe webhook off (set PQL_STRIPE_WEBHOOK_SECRET)'
        : 'sources: CRM upserts at /api/crm/companies and /api/crm/owners; Stripe webhook at /webhooks/stripe',
    );
    io.out(
      alerting === undefined
        ? 'alerts: no channel configured (alerts: in pql.yaml, or PQL_SLACK_WEBHOOK_URL, PQL_SLACK_BOT_TOKEN or PQL_WEBHOOK_URL); PQLs are still detected and listed'
        : `alerts: delivering to ${alerting.channelNames.join(', ')}`,
    );
    // Secrets are printed once, when generated, on the terminal only; they never go to the log.
    // With onListening the caller prints the secrets itself (the demo does, every run).
    const printSecrets = extras.onListening === undefined;
    if (printSecrets && generated.adminToken)
      io.out(
        `admin token (generated, kept in ${join(config.dataDir, 'secrets.json')}): ${config.adminToken}`,
      );
    if (printSecrets && generated.writeKey)
      io.out(
        `write key (generated, kept in ${join(config.dataDir, 'secrets.json')}): ${config.writeKeys[0] ?? ''}`,
      );
    if (!generated.adminToken && !generated.writeKey && extras.onListening === undefined) {
      io.out(
        `admin token and write keys: from the configuration (or ${join(config.dataDir, 'secrets.json')})`,
      );
    }
    extras.onListening?.(url, config.adminToken, config.writeKeys);
    await (extras.stop ??
      new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      }));
    io.out('pql serve: shutting down (draining in-flight requests)');
    await server.close();
  } finally {
    await worker?.stop();
    await ingest?.close();
    await store.close();
  }
}

function ingestStreamConfig(): ReturnType<typeof streamConfigFromEnv> {
  try {
    return streamConfigFromEnv(process.env);
  } catch (error) {
    if (error instanceof StreamConfigError) throw new CliInputError(error.message);
    throw error;
  }
}
