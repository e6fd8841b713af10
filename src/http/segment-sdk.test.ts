import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_WRITE_KEY, startTestServer, type TestServer } from './test-server.js';

describe('Segment analytics-node pointed at the server', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('stores all 10,000 events with the messageIds the SDK sent, and a replay of its requests changes nothing', async () => {
    const analytics = new Analytics({ writeKey: TEST_WRITE_KEY, host: t.url, flushAt: 200, maxRetries: 0 });
    const sentIds = new Set<string>();
    const requests: { body: string; headers: Record<string, string> }[] = [];
    const failures: unknown[] = [];
    analytics.on('http_request', (r) => requests.push({ body: r.body, headers: r.headers }));
    analytics.on('error', (e) => failures.push(e));
    for (let i = 0; i < 10_000; i++) {
      const account = `acc_${i % 50}`;
      analytics.track({
        userId: `user_${i % 200}`,
        // Every account gets 20 API calls (and qualifies at its third).
        event: Math.floor(i / 50) % 10 === 0 ? 'API Call Made' : 'Page Scrolled',
        properties: { n: i },
        context: { groupId: account },
      });
    }
    await analytics.closeAndFlush({ timeout: 30_000 });
    expect(failures).toEqual([]);
    for (const r of requests) {
      for (const m of (JSON.parse(r.body) as { batch: { messageId: string }[] }).batch)
        sentIds.add(m.messageId);
    }
    expect(sentIds.size).toBe(10_000);
    expect(await t.store.countEvents()).toBe(10_000);
    const storedIds = new Set<string>();
    for await (const batch of t.store.readEvents({ order: 'arrival' }))
      for (const e of batch) storedIds.add(e.messageId);
    expect(storedIds).toEqual(sentIds);
    const pqlsBefore = await t.store.listPqls({ limit: 1000 });
    expect(pqlsBefore.length).toBe(50);

    // Replay every request exactly as the SDK sent it.
    for (const r of requests) {
      const response = await fetch(`${t.url}/v1/batch`, { method: 'POST', headers: r.headers, body: r.body });
      expect(response.status).toBe(200);
    }
    expect(await t.store.countEvents()).toBe(10_000);
    expect(await t.store.listPqls({ limit: 1000 })).toEqual(pqlsBefore);
  });
});
