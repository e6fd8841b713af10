import type { FastifyInstance, FastifyRequest } from 'fastify';
import { loadReps } from '../alerts/alerting-runtime.js';
import { parseDefinitionTexts } from '../config/definition-files.js';
import type { ClauseExplanation } from '../core/engine/transition.js';
import { definitionSetMeasures } from '../core/analysis/backtest-measures.js';
import { backtestStore } from '../runtime/store-backtest.js';
import type { AlertRecord, AlertStatus, DispositionKind, DispositionRecord } from '../store/store.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';
import { isRecord } from './message-checks.js';
import { accountActivity } from './account-activity.js';
import { resolvePqlOwners } from './pql-owners.js';

/** What the dashboard's composite views read from. */
export interface DashboardApiDependencies {
  readonly queue: CommitQueue;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
  /** The data directory, where `crm/owners.json` names the reps. */
  readonly dataDir: string;
  readonly clock: () => number;
}

const ALERT_STATUSES: readonly AlertStatus[] = ['pending', 'delivered', 'dead', 'disabled'];
const DISPOSITIONS: readonly DispositionKind[] = ['contacted', 'won', 'disqualified'];
const MAX_REASON_CHARS = 500;
const MAX_ROWS = 5000;

/**
 * Registers `/api/dashboard/*`, the views the web dashboard needs beyond the read API: the PQL queue with
 * owners, reasons and alert status; an account's trait history and alerts; the alert outbox with retry;
 * and a backtest of an unsaved definition over the stored history.
 */
export function registerDashboardApiRoutes(app: FastifyInstance, deps: DashboardApiDependencies): void {
  const { queue, requireAdmin } = deps;

  app.get('/api/dashboard/queue', { preHandler: requireAdmin }, async () => {
    const detector = queue.detector;
    const [pqls, alerts, reps, dispositions] = await Promise.all([
      detector.store.listPqls({ limit: MAX_ROWS }),
      detector.store.listAlerts({ limit: MAX_ROWS }),
      loadReps(deps.dataDir),
      detector.store.listDispositions(),
    ]);
    const latestDisposition = new Map(dispositions.map((d) => [d.pqlId, d]));
    const { owners, alertsByPql, traits: accountTraits } = await resolvePqlOwners(detector, pqls, alerts);
    const repNames = new Map(reps.map((r) => [r.ownerId, r.name]));
    const names = new Map(detector.definitions.map((d) => [d.definition.id, d.definition.name]));
    const rows = pqls.map((p) => {
      const traits = accountTraits.get(p.accountId) ?? {};
      const mine = alertsByPql.get(p.id) ?? [];
      const owner = owners.get(p.id);
      return {
        id: p.id,
        accountId: p.accountId,
        accountName: stringOrUndefined(traits['name']?.value) ?? null,
        domain: stringOrUndefined(traits['domain']?.value) ?? null,
        definitionId: p.definitionId,
        definitionName: names.get(p.definitionId) ?? p.definitionId,
        status: p.status,
        qualifiedAt: iso(p.qualifiedAt),
        detectedAt: iso(p.detectedAt),
        expiredAt: iso(p.expiredAt),
        fit: fitScore(p.explanation.clauses),
        owner:
          owner === undefined
            ? null
            : {
                ownerId: owner.ownerId,
                name: owner.name ?? repNames.get(owner.ownerId) ?? owner.ownerId,
                source: owner.source,
              },
        why: topClauses(p.explanation.clauses),
        alert: alertSummary(mine),
        disposition: dispositionJson(latestDisposition.get(p.id)),
        // Billing's word on conversion, shown beside the disposition and never replaced by it.
        convertedAt: stringOrUndefined(traits['converted_at']?.value) ?? null,
      };
    });
    return {
      pqls: rows,
      dispositionSummary: dispositionSummary(rows),
      owners: reps.map((r) => ({ ownerId: r.ownerId, name: r.name })),
      definitions: detector.definitions.map((d) => ({ id: d.definition.id, name: d.definition.name })),
    };
  });

  app.get('/api/dashboard/accounts/:id', { preHandler: requireAdmin }, async (request) => {
    const accountId = (request.params as { id: string }).id;
    const store = queue.detector.store;
    const [changes, pqls, alerts, dispositions, activity] = await Promise.all([
      store.readTraitChanges(),
      store.listPqls({ accountId, limit: MAX_ROWS }),
      store.listAlerts({ limit: MAX_ROWS }),
      store.listDispositions({ accountId }),
      accountActivity(
        store.readEvents({ order: 'arrival' }),
        accountId,
        new Set(queue.detector.engine.accountUsers(accountId).map((u) => u.userId)),
      ),
    ]);
    const mineChanges = changes.filter((c) => c.accountId === accountId);
    const pqlIds = new Set(pqls.map((p) => p.id));
    const mrr = mineChanges.flatMap((c) => {
      const value = c.traits['mrr'];
      return typeof value === 'number' ? [{ at: iso(c.effectiveAt), mrr: value }] : [];
    });
    const account = await store.getAccount(accountId);
    return {
      accountId,
      // Every source's latest value of each trait (the engine keeps only what definitions read).
      traits: Object.fromEntries(
        Object.entries(account?.traits ?? {}).map(([name, t]) => [
          name,
          { value: t.value, source: t.source, at: iso(t.effectiveAt) },
        ]),
      ),
      traitChanges: mineChanges.map((c) => ({
        source: c.source,
        effectiveAt: iso(c.effectiveAt),
        traits: c.traits,
      })),
      mrr,
      alerts: alerts.filter((a) => pqlIds.has(a.pqlId)).map(alertJson),
      dispositions: dispositions.map((d) => ({ pqlId: d.pqlId, ...dispositionJson(d) })),
      activity,
    };
  });

  app.post('/api/dashboard/pqls/:id/disposition', { preHandler: requireAdmin }, async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const body = dispositionBody(request.body);
    const pql = await queue.detector.store.getPql(id);
    if (pql === undefined) throw new HttpError(404, 'not_found', `no PQL "${id}"`, 'params.id');
    const recorded = await queue.detector.store.recordDisposition({
      pqlId: pql.id,
      accountId: pql.accountId,
      definitionId: pql.definitionId,
      disposition: body.disposition,
      reason: body.reason,
      recordedBy: body.recordedBy,
      recordedAt: deps.clock(),
    });
    return reply.code(201).send({ disposition: { pqlId: pql.id, ...dispositionJson(recorded) } });
  });

  app.get('/api/dashboard/alerts', { preHandler: requireAdmin }, async (request) => {
    const query = request.query as Record<string, unknown>;
    const status = query['status'];
    if (status !== undefined && !ALERT_STATUSES.includes(status as AlertStatus)) {
      throw new HttpError(
        400,
        'invalid_value',
        `expected one of ${ALERT_STATUSES.join(', ')}, got "${String(status).slice(0, 40)}"`,
        'query.status',
      );
    }
    const all = await queue.detector.store.listAlerts({ limit: MAX_ROWS });
    const counts = Object.fromEntries(ALERT_STATUSES.map((s) => [s, 0])) as Record<AlertStatus, number>;
    for (const a of all) counts[a.status]++;
    const shown = status === undefined ? all : all.filter((a) => a.status === status);
    return { alerts: shown.map(alertJson), counts };
  });

  app.post('/api/dashboard/alerts/:id/retry', { preHandler: requireAdmin }, async (request) => {
    const id = (request.params as { id: string }).id;
    const alert = await queue.detector.store.getAlert(id);
    if (alert === undefined) throw new HttpError(404, 'not_found', `no alert "${id}"`, 'params.id');
    if (alert.status !== 'dead' && alert.status !== 'disabled') {
      throw new HttpError(
        409,
        'not_retryable',
        `alert "${id}" is ${alert.status}; only dead or disabled alerts can be retried`,
        'params.id',
      );
    }
    await queue.detector.store.retryAlert(id, deps.clock());
    const after = await queue.detector.store.getAlert(id);
    return { alert: after === undefined ? null : alertJson(after) };
  });

  app.post('/api/dashboard/backtest', { preHandler: requireAdmin }, async (request, reply) => {
    const text = definitionText(request.body);
    const parsed = parseDefinitionTexts([{ file: 'definition.yaml', text }]);
    if (!parsed.ok) {
      return reply.code(422).send({
        ok: false,
        problems: parsed.problems.map((p) => ({
          line: p.line ?? null,
          column: p.column ?? null,
          path: p.path,
          code: p.code,
          message: p.message,
        })),
      });
    }
    const definitions = parsed.definitions.map((d) => d.definition);
    const started = Date.now();
    const result = await backtestStore(queue.detector.store, definitions);
    const ids = new Set(definitions.map((d) => d.id));
    const live = (await queue.detector.store.listPqls({ limit: MAX_ROWS })).filter((p) =>
      ids.has(p.definitionId),
    );
    const liveAccounts = new Set(live.map((p) => `${p.definitionId}\n${p.accountId}`));
    const backtestAccounts = new Set(result.qualified.map((q) => `${q.definitionId}\n${q.accountId}`));
    return {
      ok: true,
      definitions: definitions.map((d) => ({ id: d.id, name: d.name })),
      events: result.events,
      accounts: result.accounts,
      traitChanges: result.traitChanges,
      firstEventAt: iso(result.firstEventAt),
      lastEventAt: iso(result.lastEventAt),
      ms: Date.now() - started,
      qualified: result.qualified.length,
      // Accounts the candidate finds that the live version did not, and the other way round.
      added: [...backtestAccounts].filter((k) => !liveAccounts.has(k)).length,
      removed: [...liveAccounts].filter((k) => !backtestAccounts.has(k)).length,
      livePqls: live.length,
      pqls: result.qualified.slice(0, 200).map((q) => ({
        accountId: q.accountId,
        definitionId: q.definitionId,
        qualifiedAt: iso(q.qualifiedAt),
        why: topClauses(q.explanation.clauses),
      })),
      byMonth: countByMonth(result.qualified.map((q) => q.qualifiedAt)),
      // Point in time over the stored CRM and billing: conversion within 90 days of qualification, and more.
      measures: definitionSetMeasures(
        result.measuredAccounts,
        result.qualifications,
        result.lastEventAt ?? 0,
        definitions.map((d) => d.id),
      ),
    };
  });
}

function dispositionJson(d: DispositionRecord | undefined): Record<string, unknown> | null {
  if (d === undefined) return null;
  return {
    disposition: d.disposition,
    reason: d.reason,
    recordedBy: d.recordedBy ?? null,
    recordedAt: iso(d.recordedAt),
  };
}

/** Per definition: PQLs, how many people marked contacted / won / disqualified, and how many billing saw pay. */
function dispositionSummary(
  rows: readonly { definitionId: string; disposition: unknown; convertedAt: string | null }[],
): Record<string, unknown>[] {
  const byDefinition = new Map<string, Record<string, number>>();
  for (const row of rows) {
    let counts = byDefinition.get(row.definitionId);
    if (counts === undefined) {
      counts = { pqls: 0, contacted: 0, won: 0, disqualified: 0, open: 0, converted: 0 };
      byDefinition.set(row.definitionId, counts);
    }
    counts['pqls']!++;
    const kind = (row.disposition as { disposition?: string } | null)?.disposition ?? 'open';
    counts[kind] = (counts[kind] ?? 0) + 1;
    if (row.convertedAt !== null) counts['converted']!++;
  }
  return [...byDefinition].map(([definitionId, counts]) => ({ definitionId, ...counts }));
}

function dispositionBody(body: unknown): {
  disposition: DispositionKind;
  reason: string;
  recordedBy: string | undefined;
} {
  const parsed = jsonBody(
    body,
    'expected a JSON body { "disposition": "contacted|won|disqualified", "reason": "..." }',
  );
  const disposition = parsed['disposition'];
  if (typeof disposition !== 'string' || !DISPOSITIONS.includes(disposition as DispositionKind))
    throw new HttpError(
      400,
      disposition === undefined ? 'required' : 'invalid_value',
      `expected one of ${DISPOSITIONS.join(', ')}, got ${JSON.stringify(disposition ?? null).slice(0, 40)}`,
      'disposition',
    );
  const reason = parsed['reason'] ?? '';
  if (typeof reason !== 'string') throw new HttpError(400, 'invalid_type', 'expected a string', 'reason');
  if (reason.length > MAX_REASON_CHARS)
    throw new HttpError(400, 'too_long', `at most ${MAX_REASON_CHARS} characters`, 'reason');
  if (disposition === 'disqualified' && reason.trim() === '')
    throw new HttpError(400, 'required', 'say why the PQL is disqualified', 'reason');
  const recordedBy = parsed['recordedBy'];
  if (recordedBy !== undefined && typeof recordedBy !== 'string')
    throw new HttpError(400, 'invalid_type', 'expected a string', 'recordedBy');
  return {
    disposition: disposition as DispositionKind,
    reason: reason.trim(),
    recordedBy:
      recordedBy === undefined || recordedBy.trim() === '' ? undefined : recordedBy.trim().slice(0, 100),
  };
}

function jsonBody(body: unknown, expected: string): Record<string, unknown> {
  if (!Buffer.isBuffer(body) || body.length === 0) throw new HttpError(400, 'invalid_json', expected);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(parsed)) throw new HttpError(400, 'invalid_type', expected);
  return parsed;
}

/** The signal clauses that held, most recently completed first: the "why" of a row (at most three). */
function topClauses(
  clauses: readonly ClauseExplanation[],
): { label: string; value: unknown; threshold: string }[] {
  return clauses
    .filter((c) => c.path.startsWith('signals.') && c.holds === true)
    .sort((a, b) => (b.firstHeldAt ?? 0) - (a.firstHeldAt ?? 0))
    .slice(0, 3)
    .map((c) => ({ label: c.label, value: c.value, threshold: c.threshold }));
}

/** Share of the fit predicates that held (null for a definition without fit). */
function fitScore(clauses: readonly ClauseExplanation[]): number | null {
  const fit = clauses.filter((c) => c.path.startsWith('fit'));
  if (fit.length === 0) return null;
  return Math.round((fit.filter((c) => c.holds === true).length / fit.length) * 100) / 100;
}

/** One status for a PQL's alerts: the worst of them (dead, disabled, pending, delivered), or none. */
function alertSummary(alerts: readonly AlertRecord[]): { status: string; count: number } {
  const order: readonly AlertStatus[] = ['dead', 'disabled', 'pending', 'delivered'];
  const status = order.find((s) => alerts.some((a) => a.status === s)) ?? 'none';
  return { status, count: alerts.length };
}

function alertJson(a: AlertRecord): Record<string, unknown> {
  const payload = isRecord(a.payload) ? a.payload : {};
  return {
    id: a.id,
    pqlId: a.pqlId,
    accountId: stringOrUndefined(payload['accountId']) ?? null,
    definitionId: stringOrUndefined(payload['definitionId']) ?? null,
    channel: a.channel,
    target: a.target,
    status: a.status,
    attempts: a.attempts,
    createdAt: iso(a.createdAt),
    nextAttemptAt: iso(a.nextAttemptAt),
    deliveredAt: iso(a.deliveredAt),
    lastError: a.lastError ?? null,
    possibleDuplicate: a.possibleDuplicate,
  };
}

function countByMonth(times: readonly number[]): { month: string; pqls: number }[] {
  const counts = new Map<string, number>();
  for (const t of times) {
    const month = new Date(t).toISOString().slice(0, 7);
    counts.set(month, (counts.get(month) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([month, pqls]) => ({ month, pqls }));
}

function definitionText(body: unknown): string {
  const parsed = jsonBody(body, 'expected a JSON body { "text": "<definition YAML>" }');
  if (typeof parsed['text'] !== 'string')
    throw new HttpError(400, 'required', 'expected "text": the definition as YAML or JSON text', 'text');
  return parsed['text'];
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}
