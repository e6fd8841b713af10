import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { ProductEvent } from '../core/events/event.js';
import type { ServerConfig } from '../config/server-config.js';
import type { Detector } from '../runtime/detector.js';
import { InProcessBus } from '../bus/in-process-bus.js';
import type { PqlBus, PublishedTransition } from '../bus/pql-bus.js';
import { CommitQueue, QueueClosedError, QueueFullError, type CommitReport } from './commit-queue.js';
import { HttpError, errorBody } from './http-error.js';
import { isRecord, jsonDepth, type AcceptContext, type Rejection } from './message-checks.js';
import { acceptPosthogEvent } from './posthog-messages.js';
import { RateLimiter } from './rate-limiter.js';
import { registerReadRoutes } from './read-routes.js';
import { registerDefinitionRoutes, type DefinitionReload } from './definition-routes.js';
import { registerSourceRoutes } from './source-routes.js';
import { registerAlertRoutes } from './alert-routes.js';
import type { LiveSources } from '../sources/live-sources.js';
import type { DefinitionCatalog } from '../runtime/definition-catalog.js';
import type { LoadedDefinition } from '../config/definition-files.js';
import { gunzipWithLimit, isGzipBody } from './request-body.js';
import { acceptSegmentMessage, type AcceptedMessage } from './segment-messages.js';
import { ServerMetrics } from './server-metrics.js';
import { registerDashboardRoutes } from './dashboard-routes.js';
import { registerAnalysisDiscoverRoutes } from './analysis-discover-routes.js';
import { registerAnalysisCohortRoutes } from './analysis-cohort-routes.js';

/** What `createServer` needs: a detector over an open store, the configuration and a logger. */
export interface CreateServerOptions {
  readonly detector: Detector;
  readonly config: ServerConfig;
  readonly logger: Logger;
  /** The live-PQL bus; an in-process one by default. */
  readonly bus?: PqlBus;
  /** Wall clock (receipt times, ticks); injectable for tests. */
  readonly clock?: () => number;
  /** The definition folder, watched while listening; without it definitions are read-only. */
  readonly catalog?: DefinitionCatalog;
  /** Opens a detector over the same store with a new definition set (for reloads). */
  readonly reopen?: (definitions: readonly LoadedDefinition[]) => Promise<Detector>;
  /** Live CRM and billing inputs (`/webhooks/stripe`, `/api/crm/companies|owners`, `/api/joins`); off without it. */
  readonly sources?: LiveSources;
  /** The Stripe webhook endpoint secret(s), comma-separated; defaults to `config.stripeWebhookSecret`. */
  readonly stripeWebhookSecret?: string;
  /**
   * Where accepted Segment and PostHog events go instead of the local commit queue (`pql serve --role
   * ingest` publishes them to JetStream); the request is answered only once it resolves.
   */
  readonly publishEvents?: (events: readonly ProductEvent[], receivedAt: number) => Promise<void>;
}

/** A built ingest server: listen, then close (which drains in-flight requests and commits). */
export interface PqlServer {
  readonly app: FastifyInstance;
  readonly bus: PqlBus;
  readonly queue: CommitQueue;
  readonly metrics: ServerMetrics;
  /** Re-reads the definition folder and swaps in changed definitions (the file watcher calls it too). */
  reloadDefinitions(): Promise<DefinitionReload>;
  /** Starts listening (port 0 picks a free port) and the tick timer; resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  /** Stops accepting, ends live streams, waits for in-flight requests and commits, stops the timer. */
  close(): Promise<void>;
}

const SEGMENT_TYPES = ['track', 'identify', 'group', 'page', 'screen', 'alias'] as const;
const POSTHOG_PATHS = ['/batch/', '/capture/', '/e/', '/i/v0/e/'] as const;

/** Builds the fastify app with the Segment and PostHog ingest APIs, the read API, health and metrics. */
export function createServer(options: CreateServerOptions): PqlServer {
  const { detector, config, logger } = options;
  const clock = options.clock ?? Date.now;
  const bus = options.bus ?? new InProcessBus((error) => logger.error({ err: error }, 'bus listener failed'));
  const writeKeys = new Set(config.writeKeys);
  const adminDigest = digest(config.adminToken);
  const rateLimiter = new RateLimiter(config.rateLimitPerKey, clock);
  const queue: CommitQueue = new CommitQueue(detector, {
    maxQueuedEvents: config.maxQueuedEvents,
    clock,
    onCommit: (report) => publishCommit(report),
  });
  const metrics = new ServerMetrics(() => queue.depth);

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // Request lines are logged by our onResponse hook, without query strings, headers or bodies.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    // Never echo parameters or secrets in framework errors; everything goes through the one error handler.
    return503OnClosing: true,
  });

  function publishCommit(report: CommitReport): void {
    if (report.duplicates > 0) metrics.eventsDuplicate.inc(report.duplicates);
    if (report.transitions.length === 0) return;
    const published: PublishedTransition[] = report.transitions.map((transition) => ({
      transition,
      detectedAt: report.detectedAt,
      receivedAt: report.receivedAt,
    }));
    for (const { transition } of published) {
      if (transition.kind !== 'qualified') continue;
      metrics.pqls.inc({ definition: transition.definitionId });
      if (report.receivedAt !== undefined) {
        metrics.detectionLatency.observe(Math.max(0, report.detectedAt - report.receivedAt) / 1000);
      }
      logger.info({ accountId: transition.accountId, definitionId: transition.definitionId }, 'new PQL');
    }
    bus.publish(published);
  }

  // Bodies are read as bytes and parsed by the routes, so bad JSON is our 400 with a reason, not fastify's.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.addHook('preParsing', async (request, _reply, payload) => {
    const encoding = request.headers['content-encoding'];
    const query = request.query as Record<string, unknown>;
    if (isGzipBody(encoding, query['compression'])) return gunzipWithLimit(payload, config.maxBodyBytes);
    if (encoding !== undefined && !/^\s*identity\s*$/i.test(encoding)) {
      throw new HttpError(
        415,
        'unsupported_encoding',
        `Content-Encoding "${encoding}" is not supported; use gzip or none`,
      );
    }
    return payload;
  });

  // Fastify closes the connections that are idle when close() starts; one still answering becomes idle only
  // later and would keep close() waiting, so responses during shutdown ask the client to close it.
  let shuttingDown = false;
  let closing: Promise<void> | undefined;
  app.addHook('onSend', async (_request, reply) => {
    if (shuttingDown) void reply.header('connection', 'close');
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const status = reply.statusCode;
    metrics.requestDuration.observe(
      { method: request.method, route, status: String(status) },
      reply.elapsedTime / 1000,
    );
    // The URL is logged without its query (which may carry a token); bodies and headers are never logged.
    const line = { method: request.method, route, status, ms: Math.round(reply.elapsedTime * 10) / 10 };
    if (status >= 500) logger.warn(line, 'request failed');
    else logger.debug(line, 'request');
  });

  app.setErrorHandler((error: unknown, request, reply) => {
    const answered = toHttpError(error);
    if (answered.statusCode >= 500)
      logger.error({ err: error, route: request.routeOptions.url }, 'unexpected error');
    for (const [name, value] of Object.entries(answered.headers)) void reply.header(name, value);
    return reply.code(answered.statusCode).send(errorBody(answered.code, answered.message, answered.path));
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`)),
  );

  // ---- ingest ---------------------------------------------------------------------------------------------

  function parseJsonBody(body: unknown): unknown {
    if (!Buffer.isBuffer(body) || body.length === 0)
      throw new HttpError(400, 'invalid_json', 'the body is empty; expected a JSON object');
    try {
      return JSON.parse(body.toString('utf8'));
    } catch (error) {
      throw new HttpError(400, 'invalid_json', `the body is not valid JSON (${(error as Error).message})`);
    }
  }

  function authorizeWriteKey(key: string | undefined, source: string): string {
    if (key === undefined || key === '') {
      throw new HttpError(
        401,
        'missing_write_key',
        source === 'segment'
          ? 'no write key: send it as the Basic auth username or as "writeKey" in the body'
          : 'no project api key: send it as "api_key" in the body',
      );
    }
    if (!writeKeys.has(key)) throw new HttpError(401, 'invalid_write_key', 'the write key is not valid');
    const retryAfter = rateLimiter.check(key);
    if (retryAfter > 0) {
      throw new HttpError(
        429,
        'rate_limited',
        `too many events for this write key; retry in ${retryAfter} s`,
        '',
        {
          'retry-after': String(retryAfter),
        },
      );
    }
    return key;
  }

  function contextFor(writeKey: string, receivedAt: number, body: unknown): AcceptContext {
    const bytes = Buffer.isBuffer(body) ? body : undefined;
    // A body that is small and shallow as a whole cannot hold a message over either limit: skip the per-message checks.
    const withinLimits =
      bytes !== undefined && bytes.length <= config.maxMessageBytes && jsonDepth(bytes) <= config.maxDepth;
    return {
      writeKey,
      receivedAt,
      maxFutureMs: config.maxFutureMs,
      maxDepth: config.maxDepth,
      maxMessageBytes: config.maxMessageBytes,
      withinLimits,
    };
  }

  /** Commits the accepted events (durably, before answering) and counts accepted and rejected ones. */
  async function commit(
    source: string,
    results: readonly AcceptedMessage[],
    receivedAt: number,
    writeKey: string,
  ): Promise<{ accepted: number; rejected: Rejection[] }> {
    const events: ProductEvent[] = [];
    const rejected: Rejection[] = [];
    for (const result of results) {
      if (result.ok) events.push(result.event);
      else {
        for (const r of result.rejections) rejected.push(r);
        metrics.eventsRejected.inc({ source, reason: result.rejections[0]?.code ?? 'invalid' });
      }
    }
    if (events.length > 0) {
      rateLimiter.take(writeKey, events.length);
      try {
        if (options.publishEvents === undefined) await queue.ingest(events, receivedAt);
        else await publishOrUnavailable(options.publishEvents, events, receivedAt);
      } catch (error) {
        if (error instanceof QueueFullError || error instanceof QueueClosedError) {
          throw new HttpError(503, 'overloaded', error.message, '', { 'retry-after': '1' });
        }
        throw error;
      }
      metrics.eventsAccepted.inc({ source }, events.length);
    }
    return { accepted: events.length, rejected };
  }

  async function ingestSegment(
    request: FastifyRequest,
    reply: FastifyReply,
    type: string | undefined,
  ): Promise<unknown> {
    const receivedAt = clock();
    const body = parseJsonBody(request.body);
    if (!isRecord(body)) throw new HttpError(400, 'invalid_type', 'expected a JSON object');
    const bodyKey = typeof body['writeKey'] === 'string' ? body['writeKey'] : undefined;
    const writeKey = authorizeWriteKey(basicUsername(request.headers.authorization) ?? bodyKey, 'segment');
    const context = contextFor(writeKey, receivedAt, request.body);
    if (type !== undefined) {
      const result = acceptSegmentMessage(body, 0, { type, context: undefined, sentAt: undefined }, context);
      const { rejected } = await commit('segment', [result], receivedAt, writeKey);
      if (rejected.length > 0) return rejectedAnswer(reply, rejected);
      return { success: true, accepted: 1, rejected: [] };
    }
    const size = (request.body as Buffer).length;
    if (size > config.maxBatchBytes) {
      throw new HttpError(
        400,
        'batch_too_large',
        `the batch is ${size} bytes; at most ${config.maxBatchBytes} bytes (${Math.round(config.maxBatchBytes / 1024)} KB) per batch`,
        'batch',
      );
    }
    const batch = body['batch'];
    if (!Array.isArray(batch))
      throw new HttpError(
        400,
        batch === undefined ? 'required' : 'invalid_type',
        'expected "batch": an array of messages',
        'batch',
      );
    const fields = { type: undefined, context: body['context'], sentAt: body['sentAt'] };
    const results = batch.map((message, index) => acceptSegmentMessage(message, index, fields, context));
    const { accepted, rejected } = await commit('segment', results, receivedAt, writeKey);
    if (accepted === 0 && batch.length > 0) return rejectedAnswer(reply, rejected);
    return { success: true, accepted, rejected };
  }

  async function ingestPosthog(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const receivedAt = clock();
    const body = parseJsonBody(request.body);
    // Accepted shapes: { api_key, batch: [...] }, a bare array of events, or one event with api_key.
    const list: unknown[] = Array.isArray(body)
      ? body
      : isRecord(body) && Array.isArray(body['batch'])
        ? body['batch']
        : [body];
    const envelope = isRecord(body) ? body : {};
    const first = isRecord(list[0]) ? list[0] : {};
    const firstProperties = isRecord(first['properties']) ? first['properties'] : {};
    const key = [
      envelope['api_key'],
      envelope['token'],
      first['api_key'],
      first['token'],
      firstProperties['token'],
    ].find((k): k is string => typeof k === 'string' && k !== '');
    const writeKey = authorizeWriteKey(key, 'posthog');
    const context = contextFor(writeKey, receivedAt, request.body);
    const mapping = { groupType: config.posthogGroupType };
    const results = list.map((event, index) =>
      acceptPosthogEvent(event, index, envelope['sent_at'], mapping, context),
    );
    const { accepted, rejected } = await commit('posthog', results, receivedAt, writeKey);
    if (accepted === 0 && list.length > 0) return rejectedAnswer(reply, rejected);
    return { status: 1, accepted, rejected };
  }

  function rejectedAnswer(reply: FastifyReply, rejected: readonly Rejection[]): unknown {
    const first = rejected[0];
    void reply.code(400);
    return {
      ...errorBody(first?.code ?? 'invalid', first?.message ?? 'the message was rejected', first?.path ?? ''),
      rejected,
    };
  }

  for (const type of SEGMENT_TYPES)
    app.post(`/v1/${type}`, (request, reply) => ingestSegment(request, reply, type));
  app.post('/v1/batch', (request, reply) => ingestSegment(request, reply, undefined));
  for (const path of POSTHOG_PATHS) app.post(path, ingestPosthog);

  // ---- operations -----------------------------------------------------------------------------------------

  app.get('/healthz', async () => ({ status: 'ok', queuedEvents: queue.depth }));
  app.get('/metrics', async (_request, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  // ---- read API -------------------------------------------------------------------------------------------

  const requireAdmin = async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    const query = request.query as Record<string, unknown>;
    const token = header?.startsWith('Bearer ')
      ? header.slice(7).trim()
      : typeof query['token'] === 'string'
        ? query['token']
        : undefined;
    if (token === undefined)
      throw new HttpError(401, 'missing_token', 'send the admin token as "Authorization: Bearer <token>"');
    if (!timingSafeEqual(digest(token), adminDigest))
      throw new HttpError(403, 'forbidden', 'this token may not read (write keys can only ingest)');
  };
  const streams = registerReadRoutes(app, { bus, metrics, queue, requireAdmin, clock });
  registerDashboardRoutes(app, { queue, requireAdmin, dataDir: config.dataDir, clock });
  registerAnalysisDiscoverRoutes(app, { queue, requireAdmin });
  registerAnalysisCohortRoutes(app, { queue, requireAdmin });
  const definitions = registerDefinitionRoutes(app, {
    queue,
    catalog: options.catalog,
    reopen: options.reopen,
    requireAdmin,
    logger,
  });
  registerAlertRoutes(app, { queue, requireAdmin, clock });
  if (options.sources !== undefined)
    registerSourceRoutes(app, {
      queue,
      sources: options.sources,
      stripeWebhookSecret: options.stripeWebhookSecret ?? config.stripeWebhookSecret,
      requireAdmin,
      logger,
      metrics,
      clock,
    });

  let tickTimer: NodeJS.Timeout | undefined;
  return {
    app,
    bus,
    queue,
    metrics,
    reloadDefinitions: () => definitions.reload(),
    async listen(port = config.port, host = config.host) {
      const address = await app.listen({ port, host });
      options.catalog?.watch(() => void definitions.reload());
      if (config.tickIntervalMs > 0) {
        tickTimer = setInterval(() => {
          queue
            .tick(clock() - config.allowedLatenessMs)
            .catch((error: unknown) => logger.error({ err: error }, 'tick failed'));
        }, config.tickIntervalMs);
        tickTimer.unref();
      }
      return address.replace('[::1]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');
    },
    close() {
      // Idempotent: a second call (signal plus test teardown, say) waits for the same shutdown.
      closing ??= (async () => {
        if (tickTimer !== undefined) clearInterval(tickTimer);
        options.catalog?.unwatch();
        shuttingDown = true;
        streams.endAll();
        await app.close();
        await queue.drain();
      })();
      return closing;
    },
  };
}

/** Publishes through the ingest port; its failure (the stream unreachable) is a 503 the client retries. */
async function publishOrUnavailable(
  publish: NonNullable<CreateServerOptions['publishEvents']>,
  events: readonly ProductEvent[],
  receivedAt: number,
): Promise<void> {
  try {
    await publish(events, receivedAt);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new HttpError(503, 'unavailable', `the event stream did not acknowledge: ${reason}`, '', {
      'retry-after': '1',
    });
  }
}

/** The write key from `Authorization: Basic base64(key:)` (the colon and password are optional). */
export function basicUsername(header: string | undefined): string | undefined {
  if (header === undefined || !/^basic /i.test(header)) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  return user === '' ? undefined : user;
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const e = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return new HttpError(
      413,
      'body_too_large',
      'the body is larger than the server accepts; send smaller batches',
    );
  if (code.startsWith('Z_') || code === 'ERR_ZLIB')
    return new HttpError(400, 'invalid_gzip', 'the body is not valid gzip');
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH')
    return new HttpError(400, 'invalid_content_length', 'the body length does not match Content-Length');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new HttpError(
      e.statusCode,
      code === '' ? 'bad_request' : code.toLowerCase(),
      typeof e.message === 'string' ? e.message : 'bad request',
    );
  }
  return new HttpError(500, 'internal', 'internal error; see the server log');
}
