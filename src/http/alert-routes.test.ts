import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_HEADERS, TEST_WRITE_KEY, basicAuth, startTestServer, type TestServer } from './test-server.js';

/** Qualifies at the fourth call: a second PQL for an account that already qualified under api-active. */
const SECOND_DEFINITION = `id: api-busy
name: API busy
signals:
  calls: { event: API Call Made, count: { gte: 4 } }
qualify: { all: [calls] }
`;

const WEBHOOK = { webhookUrl: 'http://127.0.0.1:9/hook', webhookSecret: 'whsec_dGVzdHRlc3R0ZXN0dGVzdA==' };

let seq = 0;
async function calls(t: TestServer, accountId: string, n: number): Promise<void> {
  const batch = Array.from({ length: n }, () => {
    seq++;
    return {
      type: 'track',
      messageId: `alert-routes-${seq}`,
      userId: `${accountId}-u`,
      event: 'API Call Made',
      context: { groupId: accountId },
    };
  });
  const answer = await fetch(`${t.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(TEST_WRITE_KEY) },
    body: JSON.stringify({ batch }),
  });
  expect(answer.status).toBe(200);
}

async function api(
  t: TestServer,
  path: string,
  method = 'GET',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${t.url}${path}`, { method, headers: ADMIN_HEADERS });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('/api/alerts', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { alerting: WEBHOOK, sources: true });
    await calls(t, 'acc-a', 3);
    await calls(t, 'acc-b', 3);
  });
  afterAll(async () => {
    await t.stop();
  });

  it('lists the outbox, filters by status, shows one alert by its URL-encoded id and re-queues a dead one', async () => {
    const listed = await api(t, '/api/alerts');
    const ids = (listed.body['alerts'] as { id: string; status: string }[]).map((a) => a.id).sort();
    expect(ids).toEqual(['api-active:acc-a:1/webhook', 'api-active:acc-b:1/webhook']);
    const [claimed] = await t.store.claimAlerts('test-worker', Date.now(), 1, 60_000);
    if (claimed === undefined) throw new Error('nothing to claim');
    await t.store.completeAlert(claimed.id, 'test-worker', { kind: 'dead', error: 'HTTP 400 from receiver' });
    const dead = await api(t, '/api/alerts?status=dead');
    expect(dead.body['alerts']).toEqual([
      expect.objectContaining({ id: claimed.id, status: 'dead', lastError: 'HTTP 400 from receiver' }),
    ]);
    const shown = await api(t, `/api/alerts/${encodeURIComponent(claimed.id)}`);
    expect(shown.body['alert']).toMatchObject({
      id: claimed.id,
      channel: 'webhook',
      payload: expect.objectContaining({ definitionId: 'api-active' }),
    });
    const retried = await api(t, `/api/alerts/${encodeURIComponent(claimed.id)}/retry`, 'POST');
    expect(retried.status).toBe(200);
    expect(retried.body['alert']).toMatchObject({ id: claimed.id, status: 'pending' });
    expect((await api(t, `/api/alerts/${encodeURIComponent(claimed.id)}/retry`, 'POST')).status).toBe(409);
    expect((await api(t, '/api/alerts/nope%2Fwebhook')).status).toBe(404);
    expect((await api(t, '/api/alerts?status=lost')).body['error']).toMatchObject({ path: 'query.status' });
    expect((await api(t, '/api/alerts?limit=0')).body['error']).toMatchObject({ path: 'query.limit' });
    const anonymous = await fetch(`${t.url}/api/alerts`);
    expect(anonymous.status).toBe(401);
  });

  it('describes every route the server registers in the OpenAPI document', async () => {
    const document = (await (await fetch(`${t.url}/api/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const registered = new Set<string>();
    // printRoutes draws the route tree: "│   └── /:id (GET, HEAD)", four characters of indent per level.
    const prefixes: string[] = [];
    for (const line of t.server.app.printRoutes({ commonPrefix: false }).split('\n')) {
      const match = /^(.*?)[└├]── (\S+) \(([^)]+)\)$/.exec(line);
      if (match === null) continue;
      const depth = (match[1] ?? '').length / 4;
      const segment = match[2] ?? '';
      const parent = depth === 0 ? '' : (prefixes[depth - 1] ?? '');
      const path = depth === 0 ? segment : parent === '/' ? `/${segment}` : `${parent}${segment}`;
      prefixes[depth] = path;
      prefixes.length = depth + 1;
      if (path.includes('*')) continue; // the dashboard's static files
      for (const method of (match[3] ?? '').split(', '))
        if (method !== 'HEAD' && method !== 'OPTIONS')
          registered.add(`${method.toLowerCase()} ${path.replace(/:(\w+)/g, '{$1}')}`);
    }
    expect(registered.size).toBeGreaterThan(20);
    const missing = [...registered].filter((route) => {
      const [method = '', path = ''] = route.split(' ');
      return document.paths[path]?.[method] === undefined;
    });
    expect(missing).toEqual([]);
  });
});

describe('alert frequency cap per account', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(
      {},
      {
        alerting: { ...WEBHOOK, accountCapMs: 3_600_000 },
        definitions: { 'api-busy.yaml': SECOND_DEFINITION },
      },
    );
  });
  afterAll(async () => {
    await t.stop();
  });

  it('sends at most one alert per account within the cap across definitions, while every PQL is still recorded', async () => {
    await calls(t, 'capped', 3);
    await calls(t, 'capped', 1);
    await calls(t, 'other', 3);
    const pqls = (await api(t, '/api/pqls')).body['pqls'] as { accountId: string; definitionId: string }[];
    expect(pqls.map((p) => `${p.accountId}/${p.definitionId}`).sort()).toEqual([
      'capped/api-active',
      'capped/api-busy',
      'other/api-active',
    ]);
    const alerts = (await t.store.listAlerts()).map((a) => a.id).sort();
    expect(alerts).toEqual(['api-active:capped:1/webhook', 'api-active:other:1/webhook']);
  });
});
