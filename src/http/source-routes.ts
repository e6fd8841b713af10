import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CrmCompanyRow } from '../core/sources/source-trait-changes.js';
import { handleStripeWebhook } from '../sources/billing/stripe-webhook.js';
import { parseCompanyFields } from '../sources/crm/read-crm-files.js';
import { accountJoinKeys, type LiveSources } from '../sources/live-sources.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';
import { isRecord } from './message-checks.js';

/** What the CRM and billing routes work with. */
export interface SourceRouteDependencies {
  readonly queue: CommitQueue;
  readonly sources: LiveSources;
  /** The Stripe endpoint secret(s) (`whsec_...`, comma-separated during a rotation); unset disables the webhook. */
  readonly stripeWebhookSecret: string | undefined;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
  readonly logger: Logger;
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
 * company objects) and `GET /api/joins` (the join-health report against the accounts seen so far).
 */
export function registerSourceRoutes(app: FastifyInstance, deps: SourceRouteDependencies): void {
  const { queue, sources, requireAdmin, logger } = deps;

  const resolveJoins = () => {
    const engine = queue.detector.engine;
    return sources.joins(
      engine.accountIds().map((id) => accountJoinKeys(id, engine.accountSummary(id)?.traits)),
    );
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
    if (verified === undefined || !verified.ok)
      throw new HttpError(400, 'invalid_signature', verified?.reason ?? 'not verified', 'stripe-signature');
    const event = verified.event;
    if (sources.hasStripeEvent(event.id)) return { received: true, duplicate: true };
    const [result] = await sources.recordStripeEvents([{ raw: raw.toString('utf8'), event }]);
    if (result?.kind === 'invalid') {
      // Stored (it is what Stripe sent) but not understood: answered 200 so Stripe does not retry forever.
      logger.warn({ eventId: event.id, code: result.code }, 'Stripe event not understood');
      return reply.send({ received: true, applied: false, reason: result.message });
    }
    if (result?.kind !== 'applied') return { received: true, applied: false, type: event.type };
    const joins = resolveJoins();
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
    const list = companiesOf(request.body);
    const rows: CrmCompanyRow[] = [];
    const rejected: { index: number; code: string; path: string; message: string }[] = [];
    list.items.forEach((item, index) => {
      const fields = list.hubspot ? hubspotFields(item) : ourFields(item);
      if (typeof fields === 'string') {
        rejected.push({ index, code: 'invalid_type', path: `${list.path}[${index}]`, message: fields });
        return;
      }
      const parsed = parseCompanyFields(fields, 0);
      if (parsed.ok) rows.push(parsed.row);
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
    const joins = resolveJoins();
    const transitions = await queue.applyTraitChanges(
      sources.traitChanges(joins, { companyIds: rows.map((r) => r.companyId) }),
    );
    const joinedCompanies = new Set(joins.companyOfAccount.values());
    const joined = rows.filter((r) => joinedCompanies.has(r.companyId)).length;
    if (rows.length === 0 && rejected.length > 0) void reply.code(400);
    return { accepted: rows.length, joined, rejected, transitions: transitions.length };
  });

  app.get('/api/joins', { preHandler: requireAdmin }, async () => {
    const { report } = resolveJoins();
    return { ...report, known: sources.counts() };
  });
}

function companiesOf(body: unknown): { items: unknown[]; hubspot: boolean; path: string } {
  if (!Buffer.isBuffer(body) || body.length === 0)
    throw new HttpError(400, 'invalid_json', 'expected a JSON body { "companies": [...] }');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON (${(error as Error).message})`);
  }
  if (isRecord(parsed) && Array.isArray(parsed['companies']))
    return { items: parsed['companies'], hubspot: false, path: 'companies' };
  // HubSpot's CRM API shape: { results: [{ id, properties: {...} }] } (a search or batch read answer).
  if (isRecord(parsed) && Array.isArray(parsed['results']))
    return { items: parsed['results'], hubspot: true, path: 'results' };
  throw new HttpError(
    400,
    'required',
    'expected "companies": an array of company rows (or HubSpot\'s "results": [{ id, properties }])',
    'companies',
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
