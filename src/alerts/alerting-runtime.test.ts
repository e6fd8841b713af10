import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Definition } from '../core/definitions/definition.js';
import { parseDefinition } from '../core/definitions/parse-definition.js';
import type { ProductEvent } from '../core/events/event.js';
import type { Rep } from '../core/routing/owner-router.js';
import { Detector } from '../runtime/detector.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { createAlerting } from './alerting-runtime.js';

const T0 = Date.UTC(2026, 0, 5);
const SECRET = `whsec_${Buffer.from('alerting-runtime-test-secret-32b').toString('base64')}`;
// Nothing is delivered in these tests: no worker runs, the alerts stay in the outbox.
const WEBHOOK = { webhookUrl: 'http://127.0.0.1:9/hook', webhookSecret: SECRET };

const rep = (ownerId: string): Rep => ({
  ownerId,
  name: ownerId.toUpperCase(),
  email: undefined,
  slackUserId: undefined,
  territory: undefined,
  weight: 1,
  away: false,
});

function definition(source: Record<string, unknown>): Definition {
  const parsed = parseDefinition(source);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value;
}

/** Qualifies an account at its `calls`th API call. */
const calls = (id: string, count: number, route?: Record<string, unknown>): Definition =>
  definition({
    id,
    name: id,
    signals: { calls: { event: 'API Call Made', count: { gte: count } } },
    qualify: 'calls',
    ...(route === undefined ? {} : { route }),
  });

const loaded = (definitions: readonly Definition[]) =>
  definitions.map((d) => ({ definition: d, sourcePath: `${d.id}.yaml`, sourceText: d.id }));

function call(account: string, n: number): ProductEvent {
  return {
    type: 'track',
    messageId: `${account}-${n}`,
    userId: `${account}-u`,
    anonymousId: undefined,
    timestamp: T0 + n,
    contextGroupId: account,
    event: 'API Call Made',
    properties: {},
  };
}

/** The routing recorded on the alert of each PQL, by `definitionId:accountId`. */
async function owners(store: SqliteStore): Promise<Record<string, unknown>> {
  const alerts = await store.listAlerts({ limit: 1000 });
  return Object.fromEntries(
    alerts.map((a) => {
      const payload = a.payload as { definitionId: string; accountId: string; owner: unknown };
      return [`${payload.definitionId}:${payload.accountId}`, payload.owner];
    }),
  );
}

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('createAlerting', () => {
  it('keeps sticky assignments across a restart: a new alerting over the same store restores them from the outbox', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-sticky-'));
    dirs.push(dir);
    const path = join(dir, 'pql.sqlite');
    const reps = [rep('a'), rep('b')];
    const definitions = loaded([calls('two-calls', 2), calls('three-calls', 3)]);

    const before = SqliteStore.open(path);
    const first = createAlerting(WEBHOOK, reps);
    const detector = await Detector.open(before, definitions, { alerting: first?.detectorOption });
    // acc-0 takes the first round-robin turn (A), so acc-1 lands with B.
    await detector.ingest([call('acc-0', 1), call('acc-0', 2), call('acc-1', 1), call('acc-1', 2)]);
    expect((await owners(before))['two-calls:acc-1']).toMatchObject({
      ownerId: 'b',
      reasonCode: 'round-robin',
    });
    await before.close();

    // A restart: a new router, whose first round-robin turn would be A again.
    const after = SqliteStore.open(path);
    const second = createAlerting(WEBHOOK, reps);
    const restarted = await Detector.open(after, definitions, { alerting: second?.detectorOption });
    await restarted.ingest([call('acc-1', 3)]);
    expect((await owners(after))['three-calls:acc-1']).toStrictEqual({
      ownerId: 'b',
      name: 'B',
      reason: 'assigned to B before',
      reasonCode: 'sticky',
    });
    await after.close();
  });

  it('keeps the per-account frequency cap across a restart: an account alerted before is not alerted again within it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-cap-'));
    dirs.push(dir);
    const path = join(dir, 'pql.sqlite');
    const reps = [rep('a')];
    const definitions = loaded([calls('two-calls', 2), calls('three-calls', 3)]);
    const capped = { ...WEBHOOK, accountCapMs: 3_600_000 };

    const before = SqliteStore.open(path);
    const first = createAlerting(capped, reps);
    const detector = await Detector.open(before, definitions, { alerting: first?.detectorOption });
    await detector.ingest([call('acc-0', 1), call('acc-0', 2), call('acc-1', 1)]);
    expect(Object.keys(await owners(before))).toEqual(['two-calls:acc-0']);
    await before.close();

    const after = SqliteStore.open(path);
    const second = createAlerting(capped, reps);
    const restarted = await Detector.open(after, definitions, { alerting: second?.detectorOption });
    // acc-0's second PQL falls within its cap; acc-1, never alerted, is alerted at its first.
    await restarted.ingest([call('acc-0', 3), call('acc-1', 2)]);
    expect((await after.listPqls()).map((p) => `${p.definitionId}:${p.accountId}`).sort()).toEqual([
      'three-calls:acc-0',
      'two-calls:acc-0',
      'two-calls:acc-1',
    ]);
    expect(Object.keys(await owners(after)).sort()).toEqual(['two-calls:acc-0', 'two-calls:acc-1']);
    await after.close();
  });

  it('names the people behind the qualifying clauses, not the most active users overall', async () => {
    const store = SqliteStore.open(':memory:');
    const alerting = createAlerting(WEBHOOK, [rep('a')]);
    const detector = await Detector.open(store, loaded([calls('two-calls', 2)]), {
      alerting: alerting?.detectorOption,
    });
    const browsing = Array.from({ length: 5 }, (_, n): ProductEvent => ({
      type: 'track',
      messageId: `browse-${n}`,
      userId: 'reader',
      anonymousId: undefined,
      timestamp: T0 + 10 + n,
      contextGroupId: 'acc-0',
      event: 'Docs Viewed',
      properties: {},
    }));
    await detector.ingest([...browsing, call('acc-0', 20), call('acc-0', 21)]);
    const [alert] = await store.listAlerts({ limit: 10 });
    const people = (alert?.payload as { people: { userId: string; events: number }[] }).people;
    expect(people).toEqual([expect.objectContaining({ userId: 'acc-0-u', events: 2 })]);
    await store.close();
  });

  it("routes a definition's PQLs by its own segments, others by the global rules", async () => {
    const store = SqliteStore.open(':memory:');
    const reps = [rep('ent-global'), rep('ent-own'), rep('rr')];
    const alerting = createAlerting(WEBHOOK, reps, {
      territories: [],
      segments: [{ name: 'enterprise', minEmployees: 500, maxEmployees: undefined, owners: ['ent-global'] }],
    });
    const own = calls('own-rules', 2, {
      segments: [{ name: 'enterprise', min_employees: 1000, owners: ['ent-own'] }],
      fallback: { round_robin: ['rr'] },
    });
    const detector = await Detector.open(store, loaded([own, calls('global-rules', 2)]), {
      alerting: alerting?.detectorOption,
    });
    await store.updateAccountTraits([
      { accountId: 'big', source: 'crm', effectiveAt: T0, traits: { employees: 5000 } },
      { accountId: 'mid', source: 'crm', effectiveAt: T0, traits: { employees: 700 } },
    ]);
    await detector.ingest([call('big', 1), call('big', 2)]);
    await detector.ingest([call('mid', 1), call('mid', 2)]);
    expect(await owners(store)).toMatchObject({
      'own-rules:big': { ownerId: 'ent-own', reasonCode: 'segment' },
      // Too small for the definition's enterprise (1000+): its round-robin pool, not the global 500+ segment.
      'own-rules:mid': { ownerId: 'rr', reasonCode: 'round-robin' },
      // Same account, other definition: already placed, it stays with that rep.
      'global-rules:big': { ownerId: 'ent-own', reasonCode: 'sticky' },
      'global-rules:mid': { ownerId: 'rr', reasonCode: 'sticky' },
    });
    await store.close();
  });

  it('applies the global segments to a definition without its own', async () => {
    const store = SqliteStore.open(':memory:');
    const alerting = createAlerting(WEBHOOK, [rep('ent-global'), rep('rr')], {
      territories: [],
      segments: [{ name: 'enterprise', minEmployees: 500, maxEmployees: undefined, owners: ['ent-global'] }],
    });
    const detector = await Detector.open(store, loaded([calls('global-rules', 2)]), {
      alerting: alerting?.detectorOption,
    });
    await store.updateAccountTraits([
      { accountId: 'mid', source: 'crm', effectiveAt: T0, traits: { employees: 700 } },
    ]);
    await detector.ingest([call('mid', 1), call('mid', 2)]);
    expect((await owners(store))['global-rules:mid']).toMatchObject({
      ownerId: 'ent-global',
      reason: 'segment enterprise (700 employees)',
      reasonCode: 'segment',
    });
    await store.close();
  });

  it('warns about each definition routed to a channel that is not configured', () => {
    const definitions = [
      calls('to-slack', 1, { channel: 'slack:#pql' }),
      calls('to-dm', 1, { channel: 'slack:dm' }),
      calls('to-webhook', 1, { channel: 'webhook' }),
      calls('to-teams', 1, { channel: 'teams:#sales' }),
      calls('to-all', 1),
    ];
    const webhookOnly = createAlerting(WEBHOOK, []);
    expect(webhookOnly?.routeWarnings(definitions)).toStrictEqual([
      {
        definitionId: 'to-slack',
        channel: 'slack:#pql',
        message:
          'definition to-slack routes to slack:#pql, but no Slack channel is configured (alerts.slack_bot_token or alerts.slack_webhook_url in pql.yaml, PQL_SLACK_BOT_TOKEN or PQL_SLACK_WEBHOOK_URL): its PQLs get no alert',
      },
      {
        definitionId: 'to-dm',
        channel: 'slack:dm',
        message:
          'definition to-dm routes to slack:dm, but no Slack channel is configured (alerts.slack_bot_token or alerts.slack_webhook_url in pql.yaml, PQL_SLACK_BOT_TOKEN or PQL_SLACK_WEBHOOK_URL): its PQLs get no alert',
      },
      {
        definitionId: 'to-teams',
        channel: 'teams:#sales',
        message:
          'definition to-teams routes to teams:#sales, but "teams" is not a channel (use slack:#channel, slack:dm or webhook): its PQLs get no alert',
      },
    ]);
    const slackOnly = createAlerting({ slackWebhookUrl: 'https://hooks.slack.invalid/services/x' }, []);
    expect(slackOnly?.routeWarnings(definitions).map((w) => w.definitionId)).toStrictEqual([
      'to-webhook',
      'to-teams',
    ]);
    const both = createAlerting({ ...WEBHOOK, slackBotToken: 'xoxb-test' }, []);
    expect(both?.routeWarnings(definitions).map((w) => w.definitionId)).toStrictEqual(['to-teams']);
  });
});
