import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_HEADERS,
  TEST_ADMIN_TOKEN,
  TEST_WRITE_KEY,
  basicAuth,
  startTestServer,
  type TestServer,
} from './test-server.js';

const JSON_HEADERS = { 'content-type': 'application/json', authorization: basicAuth(TEST_WRITE_KEY) };

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function post(
  t: TestServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = JSON_HEADERS,
): Promise<Answer> {
  const response = await fetch(`${t.url}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

async function get(
  t: TestServer,
  path: string,
  headers: Record<string, string> = ADMIN_HEADERS,
): Promise<Answer> {
  const response = await fetch(`${t.url}${path}`, { headers });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

let seq = 0;
function track(
  accountId: string,
  event = 'API Call Made',
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  seq++;
  return {
    type: 'track',
    messageId: `m-${seq}`,
    userId: `${accountId}-u1`,
    event,
    timestamp: new Date().toISOString(),
    context: { groupId: accountId },
    ...extra,
  };
}

function errorOf(answer: Answer): { code: string; message: string; path: string } {
  return answer.body['error'] as { code: string; message: string; path: string };
}

describe('ingest server', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ maxBodyBytes: 1024 * 1024 });
  });
  afterAll(async () => {
    await t.stop();
  });

  describe('Segment API', () => {
    it('accepts the write key as Basic username with or without the colon, or as writeKey in the body', async () => {
      const before = await t.store.countEvents();
      expect((await post(t, '/v1/track', track('auth-1'))).status).toBe(200);
      expect(
        (
          await post(t, '/v1/track', track('auth-1'), {
            'content-type': 'application/json',
            authorization: basicAuth(TEST_WRITE_KEY, false),
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await post(
            t,
            '/v1/track',
            { ...track('auth-1'), writeKey: TEST_WRITE_KEY },
            { 'content-type': 'application/json' },
          )
        ).status,
      ).toBe(200);
      expect(await t.store.countEvents()).toBe(before + 3);
    });

    it('answers 401 with a reason for a missing or wrong write key, and stores nothing', async () => {
      const before = await t.store.countEvents();
      const missing = await post(t, '/v1/track', track('auth-2'), { 'content-type': 'application/json' });
      expect(missing.status).toBe(401);
      expect(errorOf(missing).code).toBe('missing_write_key');
      const wrong = await post(t, '/v1/track', track('auth-2'), {
        'content-type': 'application/json',
        authorization: basicAuth('nope'),
      });
      expect(wrong.status).toBe(401);
      expect(errorOf(wrong).code).toBe('invalid_write_key');
      const admin = await post(t, '/v1/track', track('auth-2'), {
        'content-type': 'application/json',
        authorization: basicAuth(TEST_ADMIN_TOKEN),
      });
      expect(admin.status).toBe(401);
      expect(await t.store.countEvents()).toBe(before);
    });

    it('stores the good messages of a batch and lists the bad ones with index, code, path and message', async () => {
      const batch = [
        track('batch-1'),
        { ...track('batch-1'), event: undefined },
        track('batch-1'),
        { ...track('batch-1'), timestamp: 'yesterday' },
      ];
      const answer = await post(t, '/v1/batch', { batch });
      expect(answer.status).toBe(200);
      expect(answer.body['accepted']).toBe(2);
      expect(answer.body['rejected']).toEqual([
        { index: 1, code: 'required', path: 'event', message: expect.any(String) },
        {
          index: 3,
          code: 'invalid_timestamp',
          path: 'timestamp',
          message: expect.stringContaining('yesterday'),
        },
      ]);
    });

    it('merges batch context into each message and derives the same messageId for a retry without one', async () => {
      const message = {
        type: 'track',
        userId: 'ctx-u',
        event: 'API Call Made',
        timestamp: '2026-01-05T10:00:00Z',
      };
      const before = await t.store.countEvents();
      const first = await post(t, '/v1/batch', {
        batch: [message],
        context: { groupId: 'ctx-acc' },
        sentAt: '2026-01-05T10:00:01Z',
      });
      const retry = await post(t, '/v1/batch', {
        batch: [message],
        context: { groupId: 'ctx-acc' },
        sentAt: '2026-01-05T10:00:09Z',
      });
      expect([first.status, retry.status]).toEqual([200, 200]);
      expect(await t.store.countEvents()).toBe(before + 1);
      expect(t.detector.engine.accountSummary('ctx-acc')?.eventCount).toBe(1);
    });

    it('corrects clock skew: timestamp = receivedAt - (sentAt - timestamp)', async () => {
      const answer = await post(t, '/v1/track', {
        ...track('skew-acc'),
        timestamp: '2020-01-01T00:00:00Z',
        sentAt: '2020-01-01T00:00:05Z',
      });
      expect(answer.status).toBe(200);
      const last = t.detector.engine.accountSummary('skew-acc')?.lastEventAt ?? 0;
      expect(Math.abs(Date.now() - 5000 - last)).toBeLessThan(3000);
    });

    it('rejects a track without event, a bad timestamp and a timestamp years in the future with reasons', async () => {
      const noEvent = await post(t, '/v1/track', { ...track('bad-1'), event: undefined });
      expect(noEvent.status).toBe(400);
      expect(errorOf(noEvent)).toMatchObject({ code: 'required', path: 'event' });
      const badTime = await post(t, '/v1/track', { ...track('bad-1'), timestamp: '2026-13-45T00:00:00Z' });
      expect(badTime.status).toBe(400);
      expect(errorOf(badTime)).toMatchObject({ code: 'invalid_timestamp', path: 'timestamp' });
      const future = await post(t, '/v1/track', { ...track('bad-1'), timestamp: '2031-01-01T00:00:00Z' });
      expect(future.status).toBe(400);
      expect(errorOf(future)).toMatchObject({ code: 'timestamp_in_future', path: 'timestamp' });
      expect(t.detector.engine.accountSummary('bad-1')).toBeUndefined();
    });

    it('answers 400 for bad JSON, a 5,000-deep message, a message over 32 KB and a batch over 500 KB', async () => {
      const badJson = await post(t, '/v1/batch', '{"batch": [');
      expect(badJson.status).toBe(400);
      expect(errorOf(badJson).code).toBe('invalid_json');

      // Built as text: JSON.stringify itself cannot nest 5,000 levels on a small stack.
      const deep = `{"a":`.repeat(5000) + '1' + '}'.repeat(5000);
      const message = JSON.stringify(track('deep')).replace(/}$/, `,"properties":${deep}}`);
      const tooDeep = await post(t, '/v1/track', message);
      expect(tooDeep.status).toBe(400);
      expect(errorOf(tooDeep).code).toBe('too_deep');

      const big = await post(t, '/v1/track', {
        ...track('big'),
        properties: { blob: 'x'.repeat(33 * 1024) },
      });
      expect(big.status).toBe(400);
      expect(errorOf(big).code).toBe('message_too_large');

      const batch = Array.from({ length: 30 }, () =>
        track('big', 'API Call Made', { properties: { blob: 'x'.repeat(20 * 1024) } }),
      );
      const bigBatch = await post(t, '/v1/batch', { batch });
      expect(bigBatch.status).toBe(400);
      expect(errorOf(bigBatch)).toMatchObject({ code: 'batch_too_large', path: 'batch' });
      expect(t.detector.engine.accountSummary('big')).toBeUndefined();
    });

    it('answers 413 for a body over the raw limit before parsing it', async () => {
      const answer = await post(t, '/v1/batch', `{"batch":[],"pad":"${'x'.repeat(1100 * 1024)}"}`);
      expect(answer.status).toBe(413);
      expect(errorOf(answer).code).toBe('body_too_large');
    });

    it('answers 404 with the error shape for an unknown route', async () => {
      const answer = await post(t, '/v1/nope', {});
      expect(answer.status).toBe(404);
      expect(errorOf(answer).code).toBe('not_found');
    });
  });

  describe('PostHog capture', () => {
    const event = (uuid: string, group: string): Record<string, unknown> => ({
      event: 'API Call Made',
      distinct_id: `${group}-u`,
      uuid,
      properties: { $groups: { company: group } },
      timestamp: new Date().toISOString(),
    });

    it('accepts a gzip body (Content-Encoding or ?compression=gzip-js) on every capture path', async () => {
      const paths = ['/batch/', '/capture/', '/e/', '/i/v0/e/'];
      for (const [i, path] of paths.entries()) {
        const body = gzipSync(
          JSON.stringify({ api_key: TEST_WRITE_KEY, batch: [event(`ph-gz-${i}`, 'ph-gz')] }),
        );
        const headers: Record<string, string> = {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
        };
        expect((await post(t, path, body, headers)).status).toBe(200);
      }
      const body = gzipSync(JSON.stringify({ api_key: TEST_WRITE_KEY, batch: [event('ph-gz-js', 'ph-gz')] }));
      expect((await post(t, '/e/?compression=gzip-js', body, { 'content-type': 'text/plain' })).status).toBe(
        200,
      );
      expect(t.detector.engine.accountSummary('ph-gz')?.eventCount).toBe(5);
    });

    it('answers 413 to a gzip bomb without inflating it and stays healthy', async () => {
      const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20));
      expect(bomb.length).toBeLessThan(1024 * 1024);
      const heapBefore = process.memoryUsage().rss;
      const answer = await post(t, '/batch/', bomb, {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      expect(answer.status).toBe(413);
      expect(errorOf(answer).code).toBe('body_too_large');
      expect(process.memoryUsage().rss - heapBefore).toBeLessThan(48 * 1024 * 1024);
      expect((await get(t, '/healthz', {})).status).toBe(200);
    });

    it('answers 400 for a body that is not gzip, and 401 without api_key', async () => {
      const notGzip = await post(t, '/batch/', 'plain text', {
        'content-type': 'application/json',
        'content-encoding': 'gzip',
      });
      expect(notGzip.status).toBe(400);
      expect(errorOf(notGzip).code).toBe('invalid_gzip');
      const noKey = await post(t, '/capture/', event('ph-nokey', 'ph-x'), {
        'content-type': 'application/json',
      });
      expect(noKey.status).toBe(401);
    });
  });

  describe('live detection and the read API', () => {
    it('has committed and published the PQL by the time the completing request is answered', async () => {
      const controller = new AbortController();
      const stream = await fetch(`${t.url}/api/stream`, {
        headers: ADMIN_HEADERS,
        signal: controller.signal,
      });
      expect(stream.status).toBe(200);
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      let received = '';
      const sawPql = (async () => {
        const decoder = new TextDecoder();
        while (!received.includes('event: pql')) {
          const { value, done } = await reader.read();
          if (done) break;
          received += decoder.decode(value);
        }
      })();

      for (let i = 0; i < 2; i++) expect((await post(t, '/v1/track', track('live-acc'))).status).toBe(200);
      expect((await get(t, '/api/pqls?definition=api-active')).body['pqls']).not.toContainEqual(
        expect.objectContaining({ accountId: 'live-acc' }),
      );
      const completing = track('live-acc');
      expect((await post(t, '/v1/track', completing)).status).toBe(200);
      // No waiting: the response came after the commit.
      const { pqls } = (await get(t, '/api/pqls?definition=api-active&status=open')).body as {
        pqls: Record<string, unknown>[];
      };
      expect(pqls).toContainEqual(
        expect.objectContaining({ accountId: 'live-acc', triggerEventId: completing['messageId'] }),
      );
      await sawPql;
      controller.abort();
      const data = received.split('\n').find((l) => l.startsWith('data: ') && l.includes('live-acc'));
      expect(JSON.parse((data ?? 'data: {}').slice(6))).toMatchObject({
        kind: 'qualified',
        accountId: 'live-acc',
        definitionId: 'api-active',
      });
    });

    it('explains an account clause by clause and lists near-PQLs by progress', async () => {
      await post(t, '/v1/batch', { batch: [track('near-2'), track('near-2'), track('near-1')] });
      const account = await get(t, '/api/accounts/near-2');
      expect(account.status).toBe(200);
      const [def] = account.body['definitions'] as {
        definitionId: string;
        holds: unknown;
        missing: string[];
        explanation: { clauses: { value: unknown }[] };
      }[];
      expect(def).toMatchObject({ definitionId: 'api-active', holds: false, missing: ['signals.calls'] });
      expect(def?.explanation.clauses[0]?.value).toBe(2);
      // The recent timeline: both events, newest first, counted on their UTC day.
      const timeline = account.body['timeline'] as {
        recent: { event: string; userId: string }[];
        days: { day: string; events: number }[];
      };
      expect(timeline.recent).toHaveLength(2);
      expect(timeline.recent[0]).toMatchObject({ event: 'API Call Made', userId: 'near-2-u1' });
      expect(timeline.days.reduce((n, d) => n + d.events, 0)).toBe(2);
      const near = (await get(t, '/api/near-pqls?definition=api-active&limit=1000')).body['nearPqls'] as {
        accountId: string;
        progress: number;
      }[];
      const ids = near.map((n) => n.accountId);
      expect(ids.indexOf('near-2')).toBeLessThan(ids.indexOf('near-1'));
      expect(ids).not.toContain('live-acc');
      expect((await get(t, '/api/accounts/nobody')).status).toBe(404);
    });

    it('lists definitions and stats, serves the OpenAPI document, and rejects bad query values with 400', async () => {
      expect((await get(t, '/api/definitions')).body['definitions']).toEqual([
        expect.objectContaining({ id: 'api-active', version: 1 }),
      ]);
      const stats = (await get(t, '/api/stats')).body as { events: { stored: number } };
      expect(stats.events.stored).toBe(await t.store.countEvents());
      const openapi = (await get(t, '/api/openapi.json', {})).body as {
        openapi: string;
        paths: Record<string, unknown>;
      };
      expect(openapi.openapi).toBe('3.1.0');
      for (const path of [
        '/v1/batch',
        '/batch/',
        '/api/pqls',
        '/api/accounts/{id}',
        '/api/near-pqls',
        '/api/stream',
        '/metrics',
      ]) {
        expect(openapi.paths).toHaveProperty([path]);
      }
      for (const query of ['since=yesterday', 'limit=0', 'status=maybe']) {
        const answer = await get(t, `/api/pqls?${query}`);
        expect(answer.status).toBe(400);
        expect(errorOf(answer).path).toMatch(/^query\./);
      }
      expect((await get(t, '/api/pqls?definition=nope')).status).toBe(404);
    });

    it('lets only the admin token read: none is 401, a write key is 403', async () => {
      expect((await get(t, '/api/pqls', {})).status).toBe(401);
      expect((await get(t, '/api/pqls', { authorization: `Bearer ${TEST_WRITE_KEY}` })).status).toBe(403);
    });
  });

  describe('operations', () => {
    it('exposes Prometheus metrics: accepted, rejected by reason, request latency, detection latency, PQLs', async () => {
      const response = await fetch(`${t.url}/metrics`);
      const text = await response.text();
      expect(text).toMatch(/pql_events_accepted_total\{source="segment"\} \d+/);
      expect(text).toMatch(/pql_events_rejected_total\{source="segment",reason="required"\} \d+/);
      expect(text).toContain('pql_http_request_duration_seconds_bucket');
      expect(text).toMatch(/pql_detection_latency_seconds_count [1-9]/);
      expect(text).toMatch(/pql_pqls_total\{definition="api-active"\} [1-9]/);
    });

    it('is still healthy after every bad input above', async () => {
      expect((await get(t, '/healthz', {})).body).toMatchObject({ status: 'ok' });
    });
  });
});

describe('limits and overload', () => {
  it('answers 429 with Retry-After once a write key exceeds its rate', async () => {
    const t = await startTestServer({ rateLimitPerKey: 10 });
    try {
      const batch = Array.from({ length: 15 }, () => track('rate-acc'));
      expect((await post(t, '/v1/batch', { batch })).status).toBe(200);
      const limited = await post(t, '/v1/track', track('rate-acc'));
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      await t.stop();
    }
  });

  it('answers 503 with Retry-After rather than acknowledge events the store cannot take', async () => {
    const t = await startTestServer({ maxQueuedEvents: 100 }, { slowAppendMs: 50 });
    try {
      const batch = (): Record<string, unknown> => ({
        batch: Array.from({ length: 80 }, () => track('busy-acc')),
      });
      const answers = await Promise.all(Array.from({ length: 6 }, () => post(t, '/v1/batch', batch())));
      const statuses = answers.map((a) => a.status);
      expect(statuses).toContain(200);
      expect(statuses).toContain(503);
      for (const a of answers) if (a.status === 503) expect(a.headers.get('retry-after')).toBe('1');
      const accepted = answers.filter((a) => a.status === 200).length * 80;
      expect(await t.store.countEvents()).toBe(accepted);
      expect((await get(t, '/healthz', {})).status).toBe(200);
    } finally {
      await t.stop();
    }
  });

  it('drains in-flight requests on close: a request being committed is answered 200 and stored', async () => {
    const t = await startTestServer({}, { slowAppendMs: 150 });
    let stopped = false;
    try {
      const inFlight = post(t, '/v1/batch', { batch: [track('drain-acc'), track('drain-acc')] });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closing = t.server.close();
      const answer = await inFlight;
      await closing;
      expect(answer.status).toBe(200);
      expect(await t.store.countEvents()).toBe(2);
      await t.stop().catch(() => undefined);
      stopped = true;
    } finally {
      if (!stopped) await t.stop();
    }
  });
});
