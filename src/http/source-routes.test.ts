import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIVE_SOURCE_FILES, LiveSources } from '../sources/live-sources.js';
import { ADMIN_HEADERS, TEST_WRITE_KEY, basicAuth, startTestServer, type TestServer } from './test-server.js';

const SECRET = 'whsec_source_routes_current';
const OLD_SECRET = 'whsec_source_routes_previous';

/** Excludes accounts that already pay: the typical PQL exclusion. */
const FREE_ONLY_DEFINITION = `id: api-active-free
name: API active, not paying
signals:
  calls: { event: API Call Made, count: { gte: 3 } }
qualify: { all: [calls] }
exclude: { any: [ { trait: paying, eq: true } ] }
`;

/** A second definition on the same account, so a later PQL shows where routing goes after a change. */
const HEAVY_DEFINITION = `id: api-heavy
name: API heavy
signals:
  calls: { event: API Call Made, count: { gte: 5 } }
qualify: { all: [calls] }
`;

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

async function send(
  t: TestServer,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  headers: Record<string, string> = { ...ADMIN_HEADERS, 'content-type': 'application/json' },
): Promise<Answer> {
  const response = await fetch(`${t.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

let seq = 0;
/** Sends one Segment call through the ingest API and checks it was accepted. */
async function segment(t: TestServer, type: string, fields: Record<string, unknown>): Promise<void> {
  seq++;
  const answer = await send(
    t,
    'POST',
    `/v1/${type}`,
    { messageId: `src-${seq}`, timestamp: new Date().toISOString(), ...fields },
    { 'content-type': 'application/json', authorization: basicAuth(TEST_WRITE_KEY) },
  );
  expect(answer.status).toBe(200);
}

const call = (t: TestServer, accountId: string) =>
  segment(t, 'track', { userId: `${accountId}-u1`, event: 'API Call Made', context: { groupId: accountId } });
const group = (t: TestServer, accountId: string, traits: Record<string, unknown>) =>
  segment(t, 'group', { userId: `${accountId}-u1`, groupId: accountId, traits });

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

let eventCounter = 0;
function stripeEvent(type: string, object: Record<string, unknown>, created = nowSeconds(), id?: string) {
  eventCounter++;
  return JSON.stringify({
    id: id ?? `evt_routes_${eventCounter}`,
    object: 'event',
    type,
    created,
    data: { object },
  });
}

function subscription(id: string, customer: string, quantity: number, status = 'active') {
  return {
    id,
    object: 'subscription',
    customer,
    status,
    items: {
      data: [
        {
          id: `si_${id}`,
          quantity,
          price: {
            id: 'price_team',
            nickname: 'Team',
            currency: 'usd',
            unit_amount: 2000,
            recurring: { interval: 'month', interval_count: 1 },
          },
        },
      ],
    },
  };
}

const sign = (payload: string, secret = SECRET, timestamp = nowSeconds()): string =>
  Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp });

function webhook(t: TestServer, payload: string, signature: string): Promise<Answer> {
  return send(t, 'POST', '/webhooks/stripe', payload, {
    'content-type': 'application/json',
    'stripe-signature': signature,
  });
}

function storedStripeText(t: TestServer): string {
  const path = join(dirname(t.definitionsDir), LIVE_SOURCE_FILES.stripeEvents);
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

async function traitOf(t: TestServer, accountId: string, trait: string): Promise<unknown> {
  return (await t.store.getAccount(accountId))?.traits[trait]?.value;
}

async function pqlAccounts(t: TestServer, definition: string): Promise<string[]> {
  const answer = await send(t, 'GET', `/api/pqls?definition=${definition}`);
  return (answer.body['pqls'] as { accountId: string }[]).map((p) => p.accountId).sort();
}

describe('POST /webhooks/stripe through the real server', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(
      { stripeWebhookSecret: SECRET },
      { sources: true, definitions: { 'api-active-free.yaml': FREE_ONLY_DEFINITION } },
    );
    await call(t, 'oooco');
  });
  afterAll(async () => {
    await t.stop();
  });

  it('accepts a correctly signed event, applies it once, and answers a redelivery of the same id as a duplicate', async () => {
    const payload = stripeEvent('customer.created', {
      id: 'cus_ooo',
      object: 'customer',
      email: 'billing@oooco.example',
      metadata: { account_id: 'oooco' },
    });
    const first = await webhook(t, payload, sign(payload));
    expect(first).toEqual({
      status: 200,
      body: { received: true, applied: true, customerId: 'cus_ooo', accountId: 'oooco', transitions: 0 },
    });
    const again = await webhook(t, payload, sign(payload));
    expect(again).toEqual({ status: 200, body: { received: true, duplicate: true } });
    expect(storedStripeText(t).split(JSON.parse(payload).id as string).length - 1).toBe(1);
    expect(t.sources?.counts().stripeEvents).toMatchObject({ applied: 1, duplicate: 1 });
  });

  it('answers 400 (never 500) and stores nothing for an expired, tampered, wrongly signed, truncated or unsigned delivery', async () => {
    const payload = stripeEvent('invoice.paid', {
      id: 'in_bad',
      object: 'invoice',
      customer: 'cus_ooo',
      amount_paid: 99_900,
    });
    const id = JSON.parse(payload).id as string;
    const valid = sign(payload);
    const timestamp = valid.split(',')[0] ?? '';
    const cases: [string, string, string][] = [
      ['expired (t - 301 s)', payload, sign(payload, SECRET, nowSeconds() - 301)],
      ['tampered body', payload.replace('99900', '1'), valid],
      ['wrong secret', payload, sign(payload, 'whsec_someone_else')],
      ['signature of another length', payload, `${timestamp},v1=${'ab'.repeat(16)}`],
      ['no v1 signature', payload, timestamp],
      ['garbage header', payload, 'not a signature'],
    ];
    for (const [name, body, signature] of cases) {
      const answer = await webhook(t, body, signature);
      expect({ name, status: answer.status }).toEqual({ name, status: 400 });
      expect(answer.body['error']).toMatchObject({ code: 'invalid_signature', path: 'stripe-signature' });
    }
    const missing = await send(t, 'POST', '/webhooks/stripe', payload, {
      'content-type': 'application/json',
    });
    expect(missing.status).toBe(400);
    expect(storedStripeText(t)).not.toContain(id);
    expect(t.sources?.hasStripeEvent(id)).toBe(false);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/pql_stripe_events_total\{outcome="bad_signature"\} 7/);
  });

  it('accepts a header with two v1 signatures during a secret rotation, whichever one is current', async () => {
    const payload = stripeEvent('customer.updated', {
      id: 'cus_ooo',
      object: 'customer',
      email: 'billing@oooco.example',
      metadata: { account_id: 'oooco' },
    });
    const timestamp = nowSeconds();
    const v1 = (secret: string) => sign(payload, secret, timestamp).split(',v1=')[1] ?? '';
    const rotated = `t=${timestamp},v1=${v1(OLD_SECRET)},v1=${v1(SECRET)}`;
    expect((await webhook(t, payload, rotated)).body).toMatchObject({ received: true, applied: true });
  });

  it('accepts and counts an event type it does not handle, without applying it', async () => {
    const payload = stripeEvent('charge.refunded', { id: 'ch_1', object: 'charge', customer: 'cus_ooo' });
    const answer = await webhook(t, payload, sign(payload));
    expect(answer).toEqual({
      status: 200,
      body: { received: true, applied: false, type: 'charge.refunded' },
    });
    expect(t.sources?.counts().stripeEvents.unhandledTypes).toEqual({ 'charge.refunded': 1 });
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/pql_stripe_events_total\{outcome="unhandled"\} 1/);
  });

  it('ends in the right MRR when subscription.updated arrives before .created, and a replay changes nothing', async () => {
    const created = nowSeconds() - 60;
    const updated = stripeEvent(
      'customer.subscription.updated',
      subscription('sub_ooo', 'cus_ooo', 3),
      created + 30,
    );
    const original = stripeEvent(
      'customer.subscription.created',
      subscription('sub_ooo', 'cus_ooo', 1),
      created,
    );
    expect((await webhook(t, updated, sign(updated))).status).toBe(200);
    expect(await traitOf(t, 'oooco', 'mrr')).toBe(60);
    expect((await webhook(t, original, sign(original))).status).toBe(200);
    // The older snapshot fills in history; it never overwrites the newer state (3 seats x $20).
    expect(await traitOf(t, 'oooco', 'mrr')).toBe(60);
    expect(await traitOf(t, 'oooco', 'paying')).toBe(true);
    expect((await webhook(t, updated, sign(updated))).body).toEqual({ received: true, duplicate: true });
    expect((await webhook(t, original, sign(original))).body).toEqual({ received: true, duplicate: true });
    expect(await traitOf(t, 'oooco', 'mrr')).toBe(60);
  });

  it('stops an account that starts paying from qualifying under a definition that excludes paying accounts', async () => {
    for (const account of ['payco', 'freeco']) {
      await call(t, account);
      await call(t, account);
    }
    const customer = stripeEvent('customer.created', {
      id: 'cus_pay',
      object: 'customer',
      email: 'ap@payco.example',
      metadata: { account_id: 'payco' },
    });
    const sub = stripeEvent('customer.subscription.created', subscription('sub_pay', 'cus_pay', 1));
    const paid = stripeEvent('invoice.paid', {
      id: 'in_pay',
      object: 'invoice',
      customer: 'cus_pay',
      amount_paid: 2000,
    });
    for (const payload of [customer, sub, paid])
      expect((await webhook(t, payload, sign(payload))).status).toBe(200);
    expect(await traitOf(t, 'payco', 'paying')).toBe(true);
    await call(t, 'payco');
    await call(t, 'freeco');
    expect(await pqlAccounts(t, 'api-active-free')).toEqual(['freeco']);
    // The definition without the exclusion still qualifies both: paying blocks, it does not hide activity.
    expect(await pqlAccounts(t, 'api-active')).toEqual(['freeco', 'payco']);
  });
});

describe('CRM upserts and joins through the real server', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { sources: true });
    await group(t, 'acme', { domain: 'https://www.ACME.com/' });
    await group(t, 'gm', { domain: 'gmail.com' });
    await group(t, 'dup', { domain: 'dup.io' });
    await group(t, 'hubco', { domain: 'hubco.com' });
    await group(t, 'lonely', { domain: 'nobody-here.dev' });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('maps HubSpot company objects onto the account traits and names the field path of a bad row', async () => {
    const answer = await send(t, 'POST', '/api/crm/companies', {
      results: [
        {
          id: '9001',
          properties: {
            name: 'HubCo',
            domain: 'hubco.com',
            numberofemployees: '250',
            industry: 'COMPUTER_SOFTWARE',
            country: 'DE',
            hubspot_owner_id: '77',
            lifecyclestage: 'salesqualifiedlead',
            hs_lastmodifieddate: '2026-01-02T03:04:05.000Z',
          },
        },
        { id: '9002', properties: { domain: 'bad.example', numberofemployees: 'lots' } },
        { properties: { domain: 'noid.example' } },
      ],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ accepted: 1, joined: 1 });
    expect(answer.body['rejected']).toEqual([
      {
        index: 1,
        code: 'invalid_number',
        path: 'results[1].properties.numberofemployees',
        message: 'employees: expected a number, got "lots"',
      },
      {
        index: 2,
        code: 'missing_company_id',
        path: 'results[2].id',
        message: 'company_id: required, got an empty value',
      },
    ]);
    const account = await t.store.getAccount('hubco');
    const crm = Object.fromEntries(
      Object.entries(account?.traits ?? {})
        .filter(([, entry]) => entry.source === 'crm')
        .map(([name, entry]) => [name, entry.value]),
    );
    expect(crm).toEqual({
      crm_company_id: '9001',
      name: 'HubCo',
      employees: 250,
      industry: 'COMPUTER_SOFTWARE',
      country: 'DE',
      owner: '77',
      lifecycle_stage: 'salesqualifiedlead',
    });
    expect(account?.traits['owner']?.effectiveAt).toBe(Date.parse('2026-01-02T03:04:05.000Z'));
    // The product's group call is later than the CRM row, so the merged view shows the product's domain.
    expect(account?.traits['domain']).toMatchObject({ value: 'hubco.com', source: 'product' });
  });

  it('rejects a bad row of our own columns with its path, and the whole request with 400 when no row is good', async () => {
    const answer = await send(t, 'POST', '/api/crm/companies', {
      companies: [{ company_id: 'c-bad', mql_at: 'last tuesday' }],
    });
    expect(answer.status).toBe(400);
    expect(answer.body['rejected']).toEqual([
      {
        index: 0,
        code: 'invalid_time',
        path: 'companies[0].mql_at',
        message: 'mql_at: expected an ISO-8601 time, got "last tuesday"',
      },
    ]);
    expect((await send(t, 'POST', '/api/crm/companies', { rows: [] })).body['error']).toMatchObject({
      code: 'required',
      path: 'companies',
    });
    expect((await send(t, 'POST', '/api/crm/companies', '{nope')).status).toBe(400);
    const asWriteKey = await send(
      t,
      'POST',
      '/api/crm/companies',
      { companies: [] },
      {
        authorization: `Bearer ${TEST_WRITE_KEY}`,
      },
    );
    expect(asWriteKey.status).toBe(403);
  });

  it('upserts owners from our columns and HubSpot owners: HubSpot fields map, absent ones keep what was known', async () => {
    const ours = await send(t, 'POST', '/api/crm/owners', {
      owners: [
        { owner_id: '77', name: 'A. Lee', slack_user_id: 'U077', territory: 'EMEA', weight: 2 },
        { owner_id: '78', weight: -1 },
      ],
    });
    expect(ours.status).toBe(200);
    expect(ours.body).toEqual({
      accepted: 1,
      owners: 1,
      rejected: [
        {
          index: 1,
          code: 'invalid_number',
          path: 'owners[1].weight',
          message: 'weight: expected a number >= 0, got "-1"',
        },
      ],
    });
    const hubspot = await send(t, 'POST', '/api/crm/owners', {
      results: [
        {
          id: '77',
          email: 'ann.lee@hubco-sales.example',
          firstName: 'Ann',
          lastName: 'Lee',
          userId: 5501,
          archived: false,
          teams: [
            { id: 't0', name: 'Inbound', primary: false },
            { id: 't1', name: 'DACH', primary: true },
          ],
        },
        { id: '79', firstName: 'Bo', archived: true },
        { id: '80', archived: 'yes' },
        { email: 'no-id@hubco-sales.example' },
      ],
    });
    expect(hubspot.body['rejected']).toEqual([
      {
        index: 2,
        code: 'invalid_type',
        path: 'results[2].archived',
        message: 'archived: expected true or false, got "yes"',
      },
      {
        index: 3,
        code: 'missing_owner_id',
        path: 'results[3].id',
        message: 'owner_id: required, got an empty value',
      },
    ]);
    const expected = [
      {
        ownerId: '77',
        name: 'Ann Lee',
        email: 'ann.lee@hubco-sales.example',
        slackUserId: 'U077',
        territory: 'DACH',
        weight: 2,
        away: false,
      },
      {
        ownerId: '79',
        name: 'Bo',
        email: undefined,
        slackUserId: undefined,
        territory: undefined,
        weight: undefined,
        away: true,
      },
    ];
    expect(t.sources?.owners()).toEqual(expected);
    // Durable: a restart reads the same owners back from crm/owners.json.
    const reopened = await LiveSources.open(dirname(t.definitionsDir));
    expect(reopened.owners()).toEqual(expected.map((o) => JSON.parse(JSON.stringify(o)) as unknown));
  });

  it('joins https://www.ACME.com/ to acme.com, never joins gmail.com, and reports two companies on one domain as ambiguous', async () => {
    const upsert = await send(t, 'POST', '/api/crm/companies', {
      companies: [
        { company_id: 'c-acme', name: 'Acme', domain: 'acme.com' },
        { company_id: 'c-gmail', name: 'Gmail people', domain: 'gmail.com' },
        { company_id: 'c-dup-1', name: 'Dup One', domain: 'dup.io' },
        { company_id: 'c-dup-2', name: 'Dup Two', domain: 'https://dup.io/about' },
      ],
    });
    expect(upsert.body).toMatchObject({ accepted: 4, joined: 1, rejected: [] });
    const joins = await send(t, 'GET', '/api/joins');
    expect(joins.status).toBe(200);
    const crm = (list: unknown) => (list as { source: string }[]).filter((x) => x.source === 'crm');
    expect(crm(joins.body['matched'])).toEqual([
      expect.objectContaining({ accountId: 'acme', recordId: 'c-acme', by: 'domain', domain: 'acme.com' }),
      expect.objectContaining({ accountId: 'hubco', recordId: '9001', by: 'domain', domain: 'hubco.com' }),
    ]);
    expect(crm(joins.body['freeMail'])).toEqual([
      expect.objectContaining({ accountId: 'gm', domain: 'gmail.com' }),
    ]);
    expect(crm(joins.body['ambiguous'])).toEqual([
      expect.objectContaining({ accountId: 'dup', domain: 'dup.io', candidates: ['c-dup-1', 'c-dup-2'] }),
    ]);
    expect(crm(joins.body['unmatched'])).toEqual([
      expect.objectContaining({ accountId: 'lonely', reason: 'no_match' }),
    ]);
    expect(joins.body['companiesWithoutAccount']).toEqual(
      expect.arrayContaining(['c-gmail', 'c-dup-1', 'c-dup-2']),
    );
    expect(await traitOf(t, 'acme', 'crm_company_id')).toBe('c-acme');
    expect(await traitOf(t, 'dup', 'crm_company_id')).toBeUndefined();
    expect(await traitOf(t, 'gm', 'crm_company_id')).toBeUndefined();
  });
});

describe('an owner change reaches routing live', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(
      {},
      {
        sources: true,
        definitions: { 'api-heavy.yaml': HEAVY_DEFINITION },
        // Alerts are planned into the outbox; no worker sends them, so no Slack is needed.
        alerting: { slackBotToken: 'xoxb-test', slackApiUrl: 'http://127.0.0.1:9/api/' },
      },
    );
  });
  afterAll(async () => {
    await t.stop();
  });

  it('routes the next alert of an account to its new CRM owner after the company is upserted with another owner', async () => {
    const owners = await send(t, 'POST', '/api/crm/owners', {
      owners: [
        { owner_id: 'o1', name: 'First Rep', slack_user_id: 'U001' },
        { owner_id: 'o2', name: 'Second Rep', slack_user_id: 'U002' },
      ],
    });
    expect(owners.body).toMatchObject({ accepted: 2 });
    await group(t, 'ownco', { domain: 'ownco.io' });
    const first = await send(t, 'POST', '/api/crm/companies', {
      companies: [{ company_id: 'c-own', name: 'OwnCo', domain: 'ownco.io', owner_id: 'o1' }],
    });
    expect(first.body).toMatchObject({ accepted: 1, joined: 1 });
    for (let i = 0; i < 3; i++) await call(t, 'ownco');
    const second = await send(t, 'POST', '/api/crm/companies', {
      companies: [{ company_id: 'c-own', name: 'OwnCo', domain: 'ownco.io', owner_id: 'o2' }],
    });
    expect(second.body).toMatchObject({ accepted: 1, joined: 1, transitions: 0 });
    for (let i = 0; i < 2; i++) await call(t, 'ownco');
    const alerts = await t.store.listAlerts();
    const routed = alerts
      .map((a) => {
        const payload = a.payload as {
          definitionId: string;
          owner: { ownerId: string; reason: string };
        };
        return {
          definitionId: payload.definitionId,
          target: a.target,
          ownerId: payload.owner.ownerId,
          reason: payload.owner.reason,
        };
      })
      .sort((a, b) => a.definitionId.localeCompare(b.definitionId));
    expect(routed).toEqual([
      { definitionId: 'api-active', target: 'U001', ownerId: 'o1', reason: 'CRM owner First Rep' },
      { definitionId: 'api-heavy', target: 'U002', ownerId: 'o2', reason: 'CRM owner Second Rep' },
    ]);
    // The read API shows each PQL's assigned rep and filters by it.
    const byOwner = async (owner: string) =>
      (
        (await send(t, 'GET', `/api/pqls?owner=${owner}`)).body as {
          pqls: { definitionId: string; owner: { ownerId: string; source: string } }[];
        }
      ).pqls.map((p) => `${p.definitionId}:${p.owner.ownerId}:${p.owner.source}`);
    expect(await byOwner('o1')).toEqual(['api-active:o1:routing']);
    expect(await byOwner('o2')).toEqual(['api-heavy:o2:routing']);
    expect(await byOwner('o3')).toEqual([]);
  });
});
