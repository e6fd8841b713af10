import type { FastifyInstance, FastifyRequest } from 'fastify';
import { loadReps } from '../alerts/alerting-runtime.js';
import { parseDefinitionTexts } from '../config/definition-files.js';
import type { ClauseExplanation } from '../core/engine/transition.js';
import { backtestStore } from '../runtime/store-backtest.js';
import type { AlertRecord, AlertStatus } from '../store/store.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';
import { isRecord } from './message-checks.js';

/** What the dashboard's composite views read from. */
export interface DashboardApiDependencies {
  readonly queue: CommitQueue;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
  /** The data directory, where `crm/owners.json` names the reps. */
  readonly dataDir: string;
  readonly clock: () => number;
}

const ALERT_STATUSES: readonly AlertStatus[] = ['pending', 'delivered', 'dead', 'disabled'];
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
    const [pqls, alerts, reps] = await Promise.all([
      detector.store.listPqls({ limit: MAX_ROWS }),
      detector.store.listAlerts({ limit: MAX_ROWS }),
      loadReps(deps.dataDir),
    ]);
    const repNames = new Map(reps.map((r) => [r.ownerId, r.name]));
    const alertsByPql = groupAlerts(alerts);
    const names = new Map(detector.definitions.map((d) => [d.definition.id, d.definition.name]));
    const rows = pqls.map((p) => {
      const traits = detector.engine.accountSummary(p.accountId)?.traits ?? {};
      const mine = alertsByPql.get(p.id) ?? [];
      const routed = mine.map((a) => ownerOfPayload(a.payload)).find((o) => o !== undefined);
      const crmOwner = stringOrUndefined(traits['owner']?.value);
      const ownerId = routed?.ownerId ?? crmOwner;
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
          ownerId === undefined
            ? null
            : {
                ownerId,
                name: routed?.name ?? repNames.get(ownerId) ?? ownerId,
                source: routed === undefined ? 'crm' : 'routing',
              },
        why: topClauses(p.explanation.clauses),
        alert: alertSummary(mine),
      };
    });
    return {
      pqls: rows,
      owners: reps.map((r) => ({ ownerId: r.ownerId, name: r.name })),
      definitions: detector.definitions.map((d) => ({ id: d.definition.id, name: d.definition.name })),
    };
  });

  app.get('/api/dashboard/accounts/:id', { preHandler: requireAdmin }, async (request) => {
    const accountId = (request.params as { id: string }).id;
    const store = queue.detector.store;
    const [changes, pqls, alerts] = await Promise.all([
      store.readTraitChanges(),
      store.listPqls({ accountId, limit: MAX_ROWS }),
      store.listAlerts({ limit: MAX_ROWS }),
    ]);
    const mineChanges = changes.filter((c) => c.accountId === accountId);
    const pqlIds = new Set(pqls.map((p) => p.id));
    const mrr = mineChanges.flatMap((c) => {
      const value = c.traits['mrr'];
      return typeof value === 'number' ? [{ at: iso(c.effectiveAt), mrr: value }] : [];
    });
    return {
      accountId,
      traitChanges: mineChanges.map((c) => ({
        source: c.source,
        effectiveAt: iso(c.effectiveAt),
        traits: c.traits,
      })),
      mrr,
      alerts: alerts.filter((a) => pqlIds.has(a.pqlId)).map(alertJson),
    };
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
    };
  });
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

function groupAlerts(alerts: readonly AlertRecord[]): Map<string, AlertRecord[]> {
  const byPql = new Map<string, AlertRecord[]>();
  for (const a of alerts) {
    const list = byPql.get(a.pqlId);
    if (list === undefined) byPql.set(a.pqlId, [a]);
    else list.push(a);
  }
  return byPql;
}

/** One status for a PQL's alerts: the worst of them (dead, disabled, pending, delivered), or none. */
function alertSummary(alerts: readonly AlertRecord[]): { status: string; count: number } {
  const order: readonly AlertStatus[] = ['dead', 'disabled', 'pending', 'delivered'];
  const status = order.find((s) => alerts.some((a) => a.status === s)) ?? 'none';
  return { status, count: alerts.length };
}

function ownerOfPayload(payload: unknown): { ownerId: string; name: string | undefined } | undefined {
  if (!isRecord(payload) || !isRecord(payload['owner'])) return undefined;
  const ownerId = stringOrUndefined(payload['owner']['ownerId']);
  if (ownerId === undefined) return undefined;
  return { ownerId, name: stringOrUndefined(payload['owner']['name']) };
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
  if (!Buffer.isBuffer(body) || body.length === 0)
    throw new HttpError(400, 'invalid_json', 'expected a JSON body { "text": "<definition YAML>" }');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(parsed) || typeof parsed['text'] !== 'string')
    throw new HttpError(400, 'required', 'expected "text": the definition as YAML or JSON text', 'text');
  return parsed['text'];
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}
