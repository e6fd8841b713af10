import { PostHog } from 'posthog-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredEvent } from '../store/store.js';
import { ADMIN_HEADERS, TEST_WRITE_KEY, startTestServer, type TestServer } from './test-server.js';

async function storedEvents(t: TestServer): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const batch of t.store.readEvents({ order: 'arrival' })) out.push(...batch);
  return out;
}

describe.each([
  { gzip: true, label: 'gzip on' },
  { gzip: false, label: 'gzip off' },
])('posthog-node pointed at the server ($label)', ({ gzip }) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('stores every event attributed to its group, identifies users and sets account traits without membership', async () => {
    const client = new PostHog(TEST_WRITE_KEY, {
      host: t.url,
      flushAt: 50,
      flushInterval: 0,
      disableCompression: !gzip,
      fetchRetryCount: 0,
    });
    const errors: unknown[] = [];
    client.on('error', (e) => errors.push(e));
    client.groupIdentify({ groupType: 'company', groupKey: 'ph_acc_1', properties: { employees: 42 } });
    client.identify({ distinctId: 'ph_user_1', properties: { plan: 'free' } });
    for (let i = 0; i < 300; i++) {
      client.capture({
        distinctId: `ph_user_${i % 3}`,
        event: i % 100 === 0 ? 'API Call Made' : 'Dashboard Viewed',
        properties: { i },
        groups: { company: `ph_acc_${i % 2}` },
      });
    }
    client.capture({ distinctId: 'ph_user_1', event: '$pageview', properties: { $pathname: '/settings' } });
    await client.shutdown();
    expect(errors).toEqual([]);

    const events = await storedEvents(t);
    expect(events.length).toBe(303);
    const tracks = events.filter((e) => e.type === 'track');
    expect(tracks.length).toBe(300);
    for (const e of tracks) {
      const body = JSON.parse(e.body) as { properties: { i: number } };
      expect(e.accountId).toBe(`ph_acc_${body.properties.i % 2}`);
    }
    const group = events.find((e) => e.type === 'group');
    expect(group?.accountId).toBe('ph_acc_1');
    expect(JSON.parse(group?.body ?? '{}')).toMatchObject({ traitsOnly: true, traits: { employees: 42 } });
    expect(events.find((e) => e.type === 'identify')?.userId).toBe('ph_user_1');
    expect(events.find((e) => e.type === 'page')).toMatchObject({ userId: 'ph_user_1' });

    // ph_acc_0 made 3 API calls (i = 0, 100, 200 → accounts 0, 0, 0): it qualified.
    const response = await fetch(`${t.url}/api/pqls`, { headers: ADMIN_HEADERS });
    const { pqls } = (await response.json()) as { pqls: { accountId: string }[] };
    expect(pqls.map((p) => p.accountId)).toEqual(['ph_acc_0']);
  });
});
