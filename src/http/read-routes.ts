import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Explanation, Transition } from '../core/engine/transition.js';
import type { PqlBus, PublishedTransition } from '../bus/pql-bus.js';
import type { PqlRecord } from '../store/store.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';
import { accountActivity } from './account-activity.js';
import { openApiDocument } from './openapi-document.js';
import { resolvePqlOwners } from './pql-owners.js';
import type { ServerMetrics } from './server-metrics.js';

/** What the read API reads from. */
export interface ReadRouteDependencies {
  readonly bus: PqlBus;
  readonly metrics: ServerMetrics;
  readonly queue: CommitQueue;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
  readonly clock: () => number;
}

const MAX_LIMIT = 1000;

/** Registers `/api/*`: PQLs, accounts, near-PQLs, definitions, stats, the live stream and the OpenAPI document. */
export function registerReadRoutes(app: FastifyInstance, deps: ReadRouteDependencies): { endAll(): void } {
  const { bus, requireAdmin } = deps;
  const streams = new Set<ServerResponse>();

  app.get('/api/openapi.json', async () => openApiDocument());

  app.get('/api/pqls', { preHandler: requireAdmin }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const definitionId = optionalString(query, 'definition');
    if (definitionId !== undefined) knownDefinition(definitionIdsNow(deps), definitionId, 'query.definition');
    const status = optionalString(query, 'status');
    if (status !== undefined && status !== 'open' && status !== 'expired') {
      throw new HttpError(
        400,
        'invalid_value',
        `expected "open" or "expired", got "${status}"`,
        'query.status',
      );
    }
    const since = optionalTime(query, 'since');
    const owner = optionalString(query, 'owner');
    const limit = optionalLimit(query, 100);
    const detector = deps.queue.detector;
    const listed = await detector.store.listPqls({
      ...(definitionId === undefined ? {} : { definitionId }),
      ...(status === undefined ? {} : { status }),
      ...(since === undefined ? {} : { since }),
      // The owner is derived (routing's assignment, else the CRM owner): filter after, then cut.
      ...(owner === undefined ? { limit } : {}),
    });
    const alerts = await detector.store.listAlerts({ limit: 1_000_000 });
    const { owners } = await resolvePqlOwners(detector, listed, alerts);
    const pqls = owner === undefined ? listed : listed.filter((p) => owners.get(p.id)?.ownerId === owner);
    return {
      pqls: pqls.slice(0, limit).map((p) => {
        const assigned = owners.get(p.id);
        return {
          ...pqlRecordJson(p),
          owner: assigned === undefined ? null : { ownerId: assigned.ownerId, source: assigned.source },
        };
      }),
    };
  });

  app.get('/api/accounts/:id', { preHandler: requireAdmin }, async (request) => {
    const accountId = (request.params as { id: string }).id;
    const summary = deps.queue.detector.engine.accountSummary(accountId);
    const stored = await deps.queue.detector.store.getAccount(accountId);
    if (summary === undefined && stored === undefined) {
      throw new HttpError(404, 'not_found', `no account "${accountId}"`, 'params.id');
    }
    const pqls = await deps.queue.detector.store.listPqls({ accountId, limit: MAX_LIMIT });
    const activity = await accountActivity(
      deps.queue.detector.store.readEvents({ order: 'arrival' }),
      accountId,
      new Set(deps.queue.detector.engine.accountUsers(accountId).map((u) => u.userId)),
    );
    return {
      account: {
        accountId,
        signupAt: iso(summary?.signupAt),
        firstEventAt: iso(summary?.firstEventAt ?? stored?.firstSeenAt),
        lastEventAt: iso(summary?.lastEventAt ?? stored?.lastSeenAt),
        eventCount: summary?.eventCount ?? stored?.eventCount ?? 0,
        traits: Object.fromEntries(
          Object.entries(summary?.traits ?? {}).map(([name, t]) => [
            name,
            { value: t.value, source: t.source, at: iso(t.at) },
          ]),
        ),
      },
      definitions: deps.queue.detector.definitions.map(({ definition, version }) => {
        const explanation = deps.queue.detector.engine.explain(accountId, definition.id);
        return {
          definitionId: definition.id,
          definitionVersion: version,
          holds: explanation?.holds ?? false,
          progress: explanation === undefined ? 0 : progressOf(explanation),
          missing: explanation?.missing ?? [],
          explanation: explanation === undefined ? null : explanationJson(explanation),
        };
      }),
      pqls: pqls.map(pqlRecordJson),
      // The recent timeline: the latest events, newest first, and events per UTC day.
      timeline: { recent: activity.recent, days: activity.days },
    };
  });

  app.get('/api/near-pqls', { preHandler: requireAdmin }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const definitionId = optionalString(query, 'definition');
    const definitionIds = definitionIdsNow(deps);
    if (definitionId !== undefined) knownDefinition(definitionIds, definitionId, 'query.definition');
    const limit = optionalLimit(query, 20);
    const candidates: {
      accountId: string;
      definitionId: string;
      progress: number;
      missing: readonly string[];
      explanation: Explanation;
    }[] = [];
    const wanted = definitionId === undefined ? [...definitionIds] : [definitionId];
    for (const accountId of deps.queue.detector.engine.accountIds()) {
      for (const id of wanted) {
        const explanation = deps.queue.detector.engine.explain(accountId, id);
        if (explanation === undefined || explanation.holds === true) continue;
        // An account an exclusion blocks is not near: no amount of usage qualifies it.
        if (explanation.clauses.some((c) => c.path.startsWith('exclude') && c.holds === true)) continue;
        candidates.push({
          accountId,
          definitionId: id,
          progress: progressOf(explanation),
          missing: explanation.missing,
          explanation,
        });
      }
    }
    candidates.sort((a, b) => b.progress - a.progress || a.accountId.localeCompare(b.accountId));
    return {
      nearPqls: candidates.slice(0, limit).map((c) => ({
        accountId: c.accountId,
        definitionId: c.definitionId,
        progress: round(c.progress),
        missing: c.missing,
        clauses: explanationJson(c.explanation).clauses,
      })),
    };
  });

  app.get('/api/stats', { preHandler: requireAdmin }, async () => {
    const metric = async (name: string): Promise<Record<string, number>> => {
      const found = deps.metrics.registry.getSingleMetric(name);
      const out: Record<string, number> = {};
      if (found === undefined) return out;
      for (const v of (await found.get()).values) {
        const label = Object.values(v.labels).join(':') || 'all';
        out[label] = (out[label] ?? 0) + v.value;
      }
      return out;
    };
    return {
      events: {
        stored: await deps.queue.detector.store.countEvents(),
        accepted: await metric('pql_events_accepted_total'),
        rejected: await metric('pql_events_rejected_total'),
        duplicates: (await metric('pql_events_duplicate_total'))['all'] ?? 0,
        queued: deps.queue.depth,
      },
      pqls: await metric('pql_pqls_total'),
      engine: deps.queue.detector.engine.stats(),
      liveSubscribers: bus.subscriberCount(),
    };
  });

  app.get('/api/stream', { preHandler: requireAdmin }, async (request, reply) => {
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write(': connected\n\n');
    streams.add(raw);
    const unsubscribe = bus.subscribe((published) => {
      for (const p of published) raw.write(sseEvent(p));
    });
    const heartbeat = setInterval(() => raw.write(': heartbeat\n\n'), 15_000);
    heartbeat.unref();
    const end = (): void => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(raw);
    };
    request.raw.on('close', end);
    raw.on('close', end);
  });

  return {
    endAll() {
      for (const raw of streams) raw.end();
      streams.clear();
    },
  };
}

/** One Server-Sent Event: `event: pql` for a new PQL, `event: corrected`/`expired` for the others. */
function sseEvent(published: PublishedTransition): string {
  const t = published.transition;
  const name = t.kind === 'qualified' ? 'pql' : t.kind;
  return `event: ${name}\ndata: ${JSON.stringify({ ...transitionJson(t), detectedAt: iso(published.detectedAt) })}\n\n`;
}

function transitionJson(t: Transition): Record<string, unknown> {
  switch (t.kind) {
    case 'qualified':
      return {
        kind: t.kind,
        accountId: t.accountId,
        definitionId: t.definitionId,
        definitionVersion: t.definitionVersion,
        qualifiedAt: iso(t.qualifiedAt),
        triggerEventId: t.triggerEventId ?? null,
        explanation: explanationJson(t.explanation),
      };
    case 'corrected':
      return {
        kind: t.kind,
        accountId: t.accountId,
        definitionId: t.definitionId,
        previousQualifiedAt: iso(t.previousQualifiedAt),
        qualifiedAt: iso(t.qualifiedAt),
      };
    case 'expired':
      return {
        kind: t.kind,
        accountId: t.accountId,
        definitionId: t.definitionId,
        qualifiedAt: iso(t.qualifiedAt),
        expiredAt: iso(t.expiredAt),
      };
  }
}

/** How close an account is to qualifying, 0..1: the mean over fit and signal clauses (a holding one counts 1). */
export function progressOf(explanation: Explanation): number {
  const clauses = explanation.clauses.filter((c) => !c.path.startsWith('exclude'));
  if (clauses.length === 0) return explanation.holds === true ? 1 : 0;
  let sum = 0;
  for (const c of clauses) sum += c.holds === true ? 1 : Math.min(1, Math.max(0, c.progress ?? 0));
  return sum / clauses.length;
}

function explanationJson(e: Explanation): Record<string, unknown> {
  return {
    evaluatedAt: iso(e.evaluatedAt),
    holds: e.holds,
    missing: e.missing,
    clauses: e.clauses.map((c) => ({
      ...c,
      firstHeldAt: iso(c.firstHeldAt),
      progress: c.progress === undefined ? null : round(c.progress),
    })),
  };
}

function pqlRecordJson(p: PqlRecord): Record<string, unknown> {
  return {
    id: p.id,
    accountId: p.accountId,
    definitionId: p.definitionId,
    definitionVersion: p.definitionVersion,
    status: p.status,
    qualifiedAt: iso(p.qualifiedAt),
    detectedAt: iso(p.detectedAt),
    expiredAt: iso(p.expiredAt),
    triggerEventId: p.triggerEventId ?? null,
    corrections: p.corrections.map((c) => iso(c)),
    explanation: explanationJson(p.explanation),
  };
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function optionalString(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string')
    throw new HttpError(400, 'invalid_type', `expected one value`, `query.${name}`);
  return value;
}

function optionalTime(query: Record<string, unknown>, name: string): number | undefined {
  const value = optionalString(query, name);
  if (value === undefined) return undefined;
  const ms = /^-?\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isFinite(ms) || !/^-?\d+$|^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new HttpError(
      400,
      'invalid_timestamp',
      `expected an ISO-8601 time or epoch milliseconds, got "${value.slice(0, 60)}"`,
      `query.${name}`,
    );
  }
  return ms;
}

function optionalLimit(query: Record<string, unknown>, fallback: number): number {
  const value = optionalString(query, 'limit');
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_LIMIT) {
    throw new HttpError(
      400,
      'invalid_value',
      `expected an integer 1-${MAX_LIMIT}, got "${value.slice(0, 20)}"`,
      'query.limit',
    );
  }
  return n;
}

function knownDefinition(ids: ReadonlySet<string>, id: string, path: string): void {
  if (!ids.has(id))
    throw new HttpError(404, 'unknown_definition', `no definition "${id}"; see GET /api/definitions`, path);
}

/** Ids of the definitions live now (they change when a definition file changes). */
function definitionIdsNow(deps: ReadRouteDependencies): Set<string> {
  return new Set(deps.queue.detector.definitions.map((d) => d.definition.id));
}
