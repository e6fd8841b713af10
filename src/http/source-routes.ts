import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CrmCompanyRow } from '../core/sources/source-trait-changes.js';
import { handleStripeWebhook } from '../sources/billing/stripe-webhook.js';
import { parseCompanyFields, parseOwnerFields, type CrmOwnerUpsert } from '../sources/crm/read-crm-files.js';
import { storeJoinKeys } from '../sources/joins/store-join-keys.js';
import type { LiveSources } from '../sources/live-sources.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';
import { isRecord } from './message-checks.js';
import type { ServerMetrics } from './server-metrics.js';

/** What the CRM and billing routes work with. */
export interface SourceRouteDependencies {
  readonly queue: CommitQueue;
  readonly sources: LiveSources;
  /** The Stripe endpoint secret(s) (`whsec_...`, comma-separated during a rotation); unset disables the webhook. */
  readonly stripeWebhookSecret: string | undefined;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
  readonly logger: Logger;
  /** Wall clock: a CRM row sent without `updated_at` counts from its receipt. */
  readonly clock?: () => number;
  /** Counts Stripe deliveries by outcome (`pql_stripe_events_total`). */
  readonly metrics?: ServerMetrics;
}

/** One row of an upsert that was not taken, with the field path that made it bad. */
interface RejectedRow {
  readonly index: number;
  readonly code: string;
  readonly path: string;
  readonly message: string;
}

/** HubSpot company properties that map onto the columns of `crm/companies.csv`. */
const HUBSPOT_PROPERTIES: Readonly<Record<string, string>> = {
  name: 'name',
  domain: 'domain',
  numberofemployees: 'employees',
  industry: 'industry',
  country: 'country',
  hubspot_owner_id: 'owner_id',
  lifecyclestage: 'lifecycle_stage',
  hs_analytics_source: 'lead_source',
  hs_lifecyclestage_marketingqualifiedlead_date: 'mql_at',
  createdate: 'created_at',
  hs_lastmodifieddate: 'updated_at',
};

/** HubSpot owner fields (CRM v3 owners API) that map onto the columns of `crm/owners.csv`. */
const HUBSPOT_OWNER_PATHS: Readonly<Record<string, string>> = {
  owner_id: 'id',
  name: 'firstName',
  email: 'email',
  territory: 'teams',
  away: 'archived',
};

const OWNER_FIELDS = ['owner_id', 'name', 'email', 'slack_user_id', 'territory', 'weight', 'away'] as const;

const COMPANY_FIELDS = [
  'company_id',
  'name',
  'domain',
  'employees',
  'industry',
  'country',
  'owner_id',
  'lifecycle_stage',
  'lead_source',
  'mql_at',
  'created_at',
  'updated_at',
] as const;

/**
 * Registers the live CRM and billing inputs: `POST /webhooks/stripe` (verified with the `stripe` package,
 * stored durably before it is acknowledged, applied once), `POST /api/crm/companies` (our columns or HubSpot's
 * company objects), `POST /api/crm/owners` (our columns or HubSpot's owners) and `GET /api/joins` (the
 * join-health report against the accounts seen so far).
 */
export function registerSourceRoutes(app: FastifyInstance, deps: SourceRouteDependencies): void {
  const { queue, sources, requireAdmin, logger, metrics } = deps;
  const clock = deps.clock ?? Date.now;

  const resolveJoins = async () => {
    const engine = queue.detector.engine;
    const engineAccounts = function* () {
      for (const accountId of engine.accountIds())
        yield [accountId, engine.accountSummary(accountId)?.traits ?? {}] as const;
    };
    return sources.joins(await storeJoinKeys(queue.detector.store, engineAccounts()));
  };

  app.post('/webhooks/stripe', async (request, reply) => {
    const secrets = (deps.stripeWebhookSecret ?? '').split(',').filter((s) => s !== '');
    if (secrets.length === 0)
      throw new HttpError(
        404,
        'not_configured',
        'the Stripe webhook is off: set PQL_STRIPE_WEBHOOK_SECRET to the endpoint secret',
      );
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const header = request.headers['stripe-signature'];
    const signature = typeof header === 'string' ? header : '';
    let verified: ReturnType<typeof handleStripeWebhook> | undefined;
    for (const secret of secrets) {
      verified = handleStripeWebhook(raw, signature, secret);
      if (verified.ok) break;
    }
    if (verified === undefined || !verified.ok) {
      metrics?.stripeEvents.inc({ outcome: 'bad_signature' });
      throw new HttpError(400, 'invalid_signature', verified?.reason ?? 'not verified', 'stripe-signature');
    }
    const event = verified.event;
    if (sources.hasStripeEvent(event.id)) {
      sources.countDuplicateStripeEvent();
      metrics?.stripeEvents.inc({ outcome: 'duplicate' });
      return { received: true, duplicate: true };
    }
    const [result] = await sources.recordStripeEvents([{ raw: raw.toString('utf8'), event }]);
    metrics?.stripeEvents.inc({ outcome: result?.kind ?? 'invalid' });
    if (result?.kind === 'invalid') {
      // Stored (it is what Stripe sent) but not understood: answered 200 so Stripe does not retry forever.
      logger.warn({ eventId: event.id, code: result.code }, 'Stripe event not understood');
      return reply.send({ received: true, applied: false, reason: result.message });
    }
    if (result?.kind !== 'applied') return { received: true, applied: false, type: event.type };
    const joins = await resolveJoins();
    const accountId = joins.accountOfCustomer.get(result.customerId) ?? null;
    const transitions = await queue.applyTraitChanges(
      sources.traitChanges(joins, { customerIds: [result.customerId] }),
    );
    return {
      received: true,
      applied: true,
      customerId: result.customerId,
      accountId,
      transitions: transitions.length,
    };
  });

  app.post('/api/crm/companies', { preHandler: requireAdmin }, async (request, reply) => {
    const receivedAt = clock();
    const list = listOf(request.body, 'companies', 'company rows');
    const rows: CrmCompanyRow[] = [];
    const rejected: RejectedRow[] = [];
    list.items.forEach((item, index) => {
      const fields = list.hubspot ? hubspotFields(item) : ourFields(item);
      if (typeof fields === 'string') {
        rejected.push({ index, code: 'invalid_type', path: `${list.path}[${index}]`, message: fields });
        return;
      }
      const parsed = parseCompanyFields(fields, 0);
      if (parsed.ok) rows.push(stampReceipt(parsed.row, sources.company(parsed.row.companyId), receivedAt));
      else {
        const column = parsed.message.split(':')[0] ?? '';
        const path = !list.hubspot
          ? `${list.path}[${index}].${column}`
          : column === 'company_id'
            ? `${list.path}[${index}].id`
            : `${list.path}[${index}].properties.${hubspotName(column)}`;
        rejected.push({ index, code: parsed.code, path, message: parsed.message });
      }
    });
    await sources.recordCompanies(rows);
    const joins = await resolveJoins();
    const transitions = await queue.applyTraitChanges(
      sources.traitChanges(joins, { companyIds: rows.map((r) => r.companyId) }),
    );
    const joinedCompanies = new Set(joins.companyOfAccount.values());
    const joined = rows.filter((r) => joinedCompanies.has(r.companyId)).length;
    if (rows.length === 0 && rejected.length > 0) void reply.code(400);
    return { accepted: rows.length, joined, rejected, transitions: transitions.length };
  });

  app.post('/api/crm/owners', { preHandler: requireAdmin }, async (request, reply) => {
    const list = listOf(request.body, 'owners', 'owner rows');
    const upserts: CrmOwnerUpsert[] = [];
    const rejected: RejectedRow[] = [];
    list.items.forEach((item, index) => {
      const fields = list.hubspot ? hubspotOwnerFields(item) : ourOwnerFields(item);
      const at = `${list.path}[${index}]`;
      if (!fields.ok) {
        const path = fields.path === '' ? at : `${at}.${fields.path}`;
        rejected.push({ index, code: 'invalid_type', path, message: fields.message });
        return;
      }
      const parsed = parseOwnerFields(fields.fields);
      if (parsed.ok) upserts.push(parsed.owner);
      else {
        const column = parsed.message.split(':')[0] ?? '';
        const path = list.hubspot ? (HUBSPOT_OWNER_PATHS[column] ?? column) : column;
        rejected.push({ index, code: parsed.code, path: `${at}.${path}`, message: parsed.message });
      }
    });
    await sources.recordOwners(upserts);
    if (upserts.length === 0 && rejected.length > 0) void reply.code(400);
    return { accepted: upserts.length, rejected, owners: sources.counts().owners };
  });

  app.get('/api/joins', { preHandler: requireAdmin }, async () => {
    const { report } = await resolveJoins();
    return { ...report, known: sources.counts() };
  });
}

/**
 * A row sent without `updated_at` counts from its receipt (the CRM says "this is how it is now"), so a later
 * change of owner is a new trait change rather than a repeat of the first; the same values sent again keep
 * the time they were first received.
 */
function stampReceipt(
  row: CrmCompanyRow,
  kept: CrmCompanyRow | undefined,
  receivedAt: number,
): CrmCompanyRow {
  if (row.updatedAt !== undefined) return row;
  if (kept !== undefined && sameValues(row, kept)) return { ...row, updatedAt: kept.updatedAt };
  return { ...row, updatedAt: receivedAt };
}

function sameValues(a: CrmCompanyRow, b: CrmCompanyRow): boolean {
  const strip = ({ updatedAt: _u, line: _l, ...rest }: CrmCompanyRow) => JSON.stringify(rest);
  return strip(a) === strip(b);
}

function listOf(
  body: unknown,
  key: 'companies' | 'owners',
  what: string,
): { items: unknown[]; hubspot: boolean; path: string } {
  if (!Buffer.isBuffer(body) || body.length === 0)
    throw new HttpError(400, 'invalid_json', `expected a JSON body { "${key}": [...] }`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON (${(error as Error).message})`);
  }
  if (isRecord(parsed) && Array.isArray(parsed[key]))
    return { items: parsed[key], hubspot: false, path: key };
  // HubSpot's CRM API shape: { results: [...] } (a list, search or batch read answer).
  if (isRecord(parsed) && Array.isArray(parsed['results']))
    return { items: parsed['results'], hubspot: true, path: 'results' };
  throw new HttpError(
    400,
    'required',
    `expected "${key}": an array of ${what} (or HubSpot's "results": [...])`,
    key,
  );
}

function text(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function ourFields(item: unknown): Record<string, string | undefined> | string {
  if (!isRecord(item)) return 'expected an object with company_id and the columns of crm/companies.csv';
  const fields: Record<string, string | undefined> = {};
  for (const name of COMPANY_FIELDS) fields[name] = text(item[name]);
  return fields;
}

function hubspotFields(item: unknown): Record<string, string | undefined> | string {
  if (!isRecord(item) || !isRecord(item['properties']))
    return 'expected a HubSpot company object { id, properties }';
  const properties = item['properties'];
  const fields: Record<string, string | undefined> = { company_id: text(item['id']) };
  for (const [property, column] of Object.entries(HUBSPOT_PROPERTIES))
    fields[column] = text(properties[property]);
  return fields;
}

function hubspotName(column: string): string {
  return Object.entries(HUBSPOT_PROPERTIES).find(([, c]) => c === column)?.[0] ?? column;
}

/** An item's fields as the columns of a CRM file, or why the item cannot be read (path below the item). */
type ItemFields =
  | { readonly ok: true; readonly fields: Record<string, string | undefined> }
  | { readonly ok: false; readonly path: string; readonly message: string };

function ourOwnerFields(item: unknown): ItemFields {
  if (!isRecord(item))
    return {
      ok: false,
      path: '',
      message: 'expected an object with owner_id and the columns of crm/owners.csv',
    };
  const fields: Record<string, string | undefined> = {};
  for (const name of OWNER_FIELDS) fields[name] = text(item[name]);
  return { ok: true, fields };
}

/**
 * HubSpot owner (`GET /crm/v3/owners`) to our columns: `id` is the owner id (what `hubspot_owner_id` names),
 * `firstName lastName` the name, `archived` means away, the primary team (else the first) is the territory.
 * `userId` is HubSpot's login id, not Slack's: the Slack user id is kept from an earlier upsert.
 */
function hubspotOwnerFields(item: unknown): ItemFields {
  if (!isRecord(item))
    return {
      ok: false,
      path: '',
      message: 'expected a HubSpot owner object { id, email, firstName, lastName, ... }',
    };
  const archived = item['archived'];
  if (archived !== undefined && archived !== null && typeof archived !== 'boolean')
    return {
      ok: false,
      path: 'archived',
      message: `archived: expected true or false, got ${JSON.stringify(archived)}`,
    };
  const teams = Array.isArray(item['teams']) ? item['teams'].filter(isRecord) : [];
  const team = teams.find((t) => t['primary'] === true) ?? teams[0];
  const name = [text(item['firstName']), text(item['lastName'])].filter((p) => p !== undefined && p !== '');
  const fields = {
    owner_id: text(item['id']),
    name: name.length > 0 ? name.join(' ') : undefined,
    email: text(item['email']),
    territory: team === undefined ? undefined : text(team['name']),
    away: typeof archived === 'boolean' ? String(archived) : undefined,
  };
  return { ok: true, fields };
}
