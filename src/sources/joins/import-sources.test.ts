import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LoadedDefinition } from '../../config/definition-files.js';
import { parseDefinition } from '../../core/definitions/parse-definition.js';
import { Detector } from '../../runtime/detector.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { ImportInputError, importWorkspace } from '../import-workspace.js';

const T0 = Date.UTC(2026, 2, 2);
const HOUR = 3_600_000;
const iso = (t: number): string => new Date(t).toISOString();
const COMPANIES_HEADER =
  'company_id,name,domain,employees,industry,country,owner_id,lifecycle_stage,lead_source,mql_at,created_at,updated_at';

function definition(): LoadedDefinition {
  const source = {
    id: 'calls',
    name: 'Calls from a 10+ company that does not pay',
    fit: { trait: 'employees', gte: 10 },
    signals: { calls: { event: 'API Call Made', count: { gte: 3 } } },
    qualify: 'calls',
    exclude: { trait: 'paying', eq: true },
  };
  const parsed = parseDefinition(source);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return { definition: parsed.value, sourcePath: 'calls.yaml', sourceText: JSON.stringify(source) };
}

function group(account: string, domain: string, at: number): object {
  return { type: 'group', messageId: `${account}-g`, userId: `${account}-u`, groupId: account, timestamp: iso(at), traits: { domain } }; // prettier-ignore
}
function callEvent(account: string, n: number, at: number): object {
  return { type: 'track', messageId: `${account}-${n}`, userId: `${account}-u`, event: 'API Call Made', timestamp: iso(at), context: { groupId: account } }; // prettier-ignore
}
function stripe(id: string, type: string, at: number, object: object): object {
  return { id, object: 'event', type, created: Math.floor(at / 1000), data: { object } };
}
function activeSubscription(customer: string): object {
  return {
    id: `sub_${customer}`,
    object: 'subscription',
    customer,
    status: 'active',
    items: { data: [{ quantity: 2, price: { unit_amount: 5000, currency: 'usd', recurring: { interval: 'month', interval_count: 1 } } }] }, // prettier-ignore
  };
}

/** Two accounts on company domains: acc_early pays 1 h after sign-up (before its 3rd call), acc_late after. */
function writeExport(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pql-sources-'));
  mkdirSync(join(dir, 'crm'));
  mkdirSync(join(dir, 'billing'));
  const events = [
    group('acc_early', 'early.io', T0),
    group('acc_late', 'late.io', T0),
    group('acc_solo', 'gmail.com', T0),
    ...[1, 2, 3].flatMap((n) => [callEvent('acc_early', n, T0 + n * 2 * HOUR), callEvent('acc_late', n, T0 + n * 2 * HOUR)]), // prettier-ignore
  ];
  writeFileSync(join(dir, 'events.ndjson'), `${events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  writeFileSync(
    join(dir, 'crm', 'companies.csv'),
    [
      `${COMPANIES_HEADER},favourite_color`,
      `c1,Early Inc,https://www.EARLY.io/,40,Software,US,owner-1,lead,web,,${iso(T0 - HOUR)},,blue`,
      `c2,"Late, Ltd",late.io,25,Software,GB,owner-2,lead,web,${iso(T0)},${iso(T0 - HOUR)},${iso(T0 - HOUR)},red`,
      `c3,Gmail trap,gmail.com,5,,,,,,,${iso(T0)},,`,
      `c4,Bad employees,bad.io,lots,,,,,,,${iso(T0)},,`,
      `c5,Short row,short.io`,
      `c6,No time,notime.io,3,,,,,,,,,`,
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'crm', 'owners.csv'),
    'owner_id,name,email,slack_user_id,territory,weight,away\nowner-1,Ann,ann@x.io,U1,NA,2,false\nowner-2,Bo,bo@x.io,U2,EMEA,,true\n',
  );
  const billing = [
    stripe('evt_1', 'customer.created', T0 + HOUR - 60_000, { id: 'cus_e', email: 'pay@early.io', metadata: { account_id: 'acc_early' } }), // prettier-ignore
    stripe('evt_2', 'customer.subscription.created', T0 + HOUR, activeSubscription('cus_e')),
    stripe('evt_3', 'invoice.paid', T0 + HOUR, { id: 'in_e', customer: 'cus_e', amount_paid: 10000 }),
    stripe('evt_3', 'invoice.paid', T0 + HOUR, { id: 'in_e', customer: 'cus_e', amount_paid: 10000 }),
    // acc_late's customer has no metadata: it joins by its email domain, and pays after qualifying.
    stripe('evt_4', 'customer.created', T0 + 9 * HOUR, { id: 'cus_l', email: 'ceo@late.io', metadata: {} }),
    stripe('evt_5', 'customer.subscription.created', T0 + 10 * HOUR, activeSubscription('cus_l')),
    stripe('evt_6', 'charge.succeeded', T0 + 10 * HOUR, { id: 'ch_1' }),
  ];
  writeFileSync(join(dir, 'billing', 'stripe-events.ndjson'), `${billing.map((e) => JSON.stringify(e)).join('\n')}\nnot json\n`); // prettier-ignore
  return dir;
}

describe('importWorkspace with CRM and billing', () => {
  it('stops qualifying an account that pays before it would have qualified, and qualifies the other', async () => {
    const dir = writeExport();
    const dataDir = join(dir, 'data');
    const store = SqliteStore.open(':memory:');
    const detector = await Detector.open(store, [definition()], { now: () => T0 });
    const report = await importWorkspace(dir, detector, { rejectsDir: join(dataDir, 'rejects'), dataDir });
    const pqls = await store.listPqls();
    expect(pqls.map((p) => [p.accountId, p.qualifiedAt])).toEqual([['acc_late', T0 + 6 * HOUR]]);

    const files = Object.fromEntries(report.files.map((f) => [f.file.slice(dir.length + 1), f]));
    expect(files['crm/companies.csv']).toMatchObject({ linesRead: 7, accepted: 4, rejected: 2 });
    expect(files['crm/companies.csv']?.rejectedByReason).toEqual({
      invalid_number: { count: 1, lines: [5], example: 'line 5: employees: expected a number, got "lots"' },
      column_count: { count: 1, lines: [6], example: 'line 6: expected 13 fields, got 3' },
    });
    expect(files['crm/owners.csv']).toMatchObject({ accepted: 2, rejected: 0 });
    expect(files['billing/stripe-events.ndjson']).toMatchObject({ linesRead: 8, accepted: 6, duplicates: 1, rejected: 1 }); // prettier-ignore
    expect(files['events.ndjson']).toMatchObject({ accepted: 9 });
    expect(report.warnings).toEqual(
      expect.arrayContaining([
        expect.stringContaining('unknown column favourite_color ignored'),
        expect.stringContaining('1 company has neither updated_at nor created_at'),
        expect.stringContaining('1 event of unhandled type charge.succeeded'),
      ]),
    );
    expect(report.joins?.crm).toEqual({ subjects: 3, matchedById: 0, matchedByDomain: 2, unmatched: 0, ambiguous: 0, freeMail: 1 }); // prettier-ignore
    expect(report.joins?.billing).toMatchObject({ matchedById: 1, matchedByDomain: 1 });

    const early = await store.getAccount('acc_early');
    expect(early?.traits['employees']).toMatchObject({ value: 40, source: 'crm', effectiveAt: T0 - HOUR });
    expect(early?.traits['paying']).toMatchObject({ value: true, source: 'billing', effectiveAt: T0 + HOUR });
    expect(early?.traits['mrr']).toMatchObject({ value: 100, source: 'billing' });
    const late = await store.getAccount('acc_late');
    expect(late?.traits['mql_at']?.value).toBe(iso(T0));
    expect(late?.traits['owner']?.value).toBe('owner-2');
    const owners = JSON.parse(readFileSync(join(dataDir, 'crm', 'owners.json'), 'utf8')) as {
      owners: unknown[];
    };
    expect(owners.owners).toHaveLength(2);
    await store.close();
  });

  it('stops with an error naming a missing required column', async () => {
    const dir = writeExport();
    writeFileSync(join(dir, 'crm', 'companies.csv'), 'company_id,name,employees\nc1,A,3\n');
    const store = SqliteStore.open(':memory:');
    const detector = await Detector.open(store, [definition()]);
    const run = importWorkspace(dir, detector, { rejectsDir: join(dir, 'rejects') });
    await expect(run).rejects.toThrow(ImportInputError);
    await expect(run).rejects.toThrow(/missing required columns "domain", "industry"/);
    await store.close();
  });
});
