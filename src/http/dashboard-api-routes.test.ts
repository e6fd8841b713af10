import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_HEADERS, TEST_WRITE_KEY, basicAuth, startTestServer, type TestServer } from './test-server.js';

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
  // acc-a qualifies (three calls), acc-b is one call short.
  await ingest([
    {
      type: 'group',
      messageId: 'acc-a-group',
      userId: 'acc-a-u',
      groupId: 'acc-a',
      traits: { name: 'Acme', owner: 'owner-7' },
      timestamp: '2025-12-31T09:00:00.000Z',
    },
    ...calls('acc-a', 0, 3),
    ...calls('acc-b', 10, 2),
  ]);
});
afterAll(async () => {
  await t.stop();
});

function calls(accountId: string, from: number, count: number): Record<string, unknown>[] {
  return Array.from({ length: count }, (_, i) => ({
    type: 'track',
    messageId: `${accountId}-${from + i}`,
    userId: `${accountId}-u`,
    event: 'API Call Made',
    timestamp: new Date(Date.UTC(2026, 0, 1 + i, 9, from + i)).toISOString(),
    context: { groupId: accountId },
  }));
}

async function ingest(batch: readonly Record<string, unknown>[]): Promise<void> {
  const answer = await fetch(`${t.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(TEST_WRITE_KEY) },
    body: JSON.stringify({ batch }),
  });
  expect(answer.status).toBe(200);
}

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${t.url}${path}`, {
    method,
    headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

interface QueueRow {
  id: string;
  accountName: string | null;
  owner: { ownerId: string; name: string } | null;
  accountId: string;
  definitionId: string;
  why: { label: string }[];
  alert: { status: string; count: number };
  disposition: { disposition: string; reason: string; recordedBy: string | null } | null;
  convertedAt: string | null;
}

async function queueRows(): Promise<QueueRow[]> {
  const answer = await call('GET', '/api/dashboard/queue');
  expect(answer.status).toBe(200);
  return answer.body['pqls'] as QueueRow[];
}

describe('dashboard API', () => {
  it('lists the queue with why, alert status and no disposition for a new PQL', async () => {
    const rows = await queueRows();
    expect(rows.map((r) => r.accountId)).toEqual(['acc-a']);
    // Traits no definition reads (name, owner) come from the stored account, not the engine.
    expect(rows[0]).toMatchObject({ accountName: 'Acme', owner: { ownerId: 'owner-7', name: 'owner-7' } });
    expect(rows[0]?.why.length).toBeGreaterThan(0);
    expect(rows[0]?.alert).toEqual({ status: 'none', count: 0 });
    expect(rows[0]?.disposition).toBeNull();
    expect(rows[0]?.convertedAt).toBeNull();
  });

  it('records a disposition with its reason; the latest one shows in the queue and all in the account', async () => {
    const [row] = await queueRows();
    const contacted = await call('POST', `/api/dashboard/pqls/${row!.id}/disposition`, {
      disposition: 'contacted',
      reason: 'booked a demo',
    });
    expect(contacted.status).toBe(201);
    const disqualified = await call('POST', `/api/dashboard/pqls/${row!.id}/disposition`, {
      disposition: 'disqualified',
      reason: '  student project ',
      recordedBy: 'owner-2',
    });
    expect(disqualified.status).toBe(201);
    const [after] = await queueRows();
    expect(after?.disposition).toMatchObject({
      disposition: 'disqualified',
      reason: 'student project',
      recordedBy: 'owner-2',
    });
    const summary = (await call('GET', '/api/dashboard/queue')).body['dispositionSummary'];
    expect(summary).toEqual([
      {
        definitionId: 'api-active',
        pqls: 1,
        contacted: 0,
        won: 0,
        disqualified: 1,
        open: 0,
        converted: 0,
      },
    ]);
    const account = await call('GET', '/api/dashboard/accounts/acc-a');
    expect((account.body['dispositions'] as { disposition: string }[]).map((d) => d.disposition)).toEqual([
      'contacted',
      'disqualified',
    ]);
  });

  it('answers bad dispositions with 400 and a path, and an unknown PQL with 404', async () => {
    const [row] = await queueRows();
    const path = `/api/dashboard/pqls/${row!.id}/disposition`;
    expect(await call('POST', path, { disposition: 'maybe' })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_value', path: 'disposition' } },
    });
    expect(await call('POST', path, { disposition: 'disqualified', reason: ' ' })).toMatchObject({
      status: 400,
      body: { error: { code: 'required', path: 'reason' } },
    });
    expect(await call('POST', path, { disposition: 'won', reason: 'x'.repeat(501) })).toMatchObject({
      status: 400,
      body: { error: { code: 'too_long', path: 'reason' } },
    });
    expect(await call('POST', '/api/dashboard/pqls/nope/disposition', { disposition: 'won' })).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found' } },
    });
    const anonymous = await fetch(`${t.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ disposition: 'won' }),
    });
    expect(anonymous.status).toBe(401);
  });

  it("shows an account's activity per day and its most recent events first", async () => {
    const account = await call('GET', '/api/dashboard/accounts/acc-b');
    const activity = account.body['activity'] as {
      events: number;
      days: { day: string; events: number }[];
      recent: { messageId: string; event: string }[];
    };
    expect(activity.events).toBe(2);
    expect(activity.days).toEqual([
      { day: '2026-01-01', events: 1 },
      { day: '2026-01-02', events: 1 },
    ]);
    expect(activity.recent.map((e) => e.messageId)).toEqual(['acc-b-11', 'acc-b-10']);
    expect(activity.recent[0]?.event).toBe('API Call Made');
  });

  it('backtests an unsaved definition, and answers a bad one with problems that have a line and path', async () => {
    const good = await call('POST', '/api/dashboard/backtest', {
      text: 'id: two-calls\nname: Two calls\nsignals:\n  calls: { event: API Call Made, count: { gte: 2 } }\nqualify: { all: [calls] }\n',
    });
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ ok: true, qualified: 2, events: 6 });
    const bad = await call('POST', '/api/dashboard/backtest', {
      text: 'id: two-calls\nname: Two calls\nsignals:\n  calls: { event: API Call Made, count: { gte: two } }\nqualify: { all: [calls] }\n',
    });
    expect(bad.status).toBe(422);
    const problems = bad.body['problems'] as { line: number | null; path: string }[];
    expect(problems[0]?.line).toBe(4);
    expect(problems[0]?.path).toContain('signals.calls');
  });
});
