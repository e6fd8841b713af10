import Stripe from 'stripe';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TEST_ADMIN_TOKEN,
  TEST_WRITE_KEY,
  basicAuth,
  startTestServer,
  type TestServer,
} from './test-server.js';

const STRIPE_SECRET = 'whsec_logs_test_stripe_secret';
const EMAILS = [
  'kim.logs@acme-logs.example',
  'rep.logs@sales-logs.example',
  'billing.logs@acme-logs.example',
];
const WRONG_KEY = 'wk_wrong_but_secret_looking';

describe('server logs', () => {
  const lines: string[] = [];
  let t: TestServer;
  beforeAll(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    t = await startTestServer(
      { stripeWebhookSecret: STRIPE_SECRET },
      {
        logger,
        sources: true,
        alerting: { webhookUrl: 'http://127.0.0.1:9/hook', webhookSecret: 'whsec_dGVzdHRlc3R0ZXN0dGVzdA==' },
      },
    );
  });
  afterAll(async () => {
    await t.stop();
  });

  it('carry requests and PQLs but never e-mail addresses, write keys, tokens or webhook secrets', async () => {
    const segment = (path: string, body: unknown, authorization = basicAuth(TEST_WRITE_KEY)) =>
      fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify(body),
      });
    const admin = (path: string, body: unknown) =>
      fetch(`${t.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_ADMIN_TOKEN}` },
        body: JSON.stringify(body),
      });
    expect((await segment('/v1/identify', { userId: 'kim', traits: { email: EMAILS[0] } })).status).toBe(200);
    const calls = Array.from({ length: 3 }, (_, i) => ({
      type: 'track',
      messageId: `logs-${i}`,
      userId: 'kim',
      event: 'API Call Made',
      context: { groupId: 'logs-acc', traits: { email: EMAILS[0] } },
    }));
    expect((await segment('/v1/batch', { batch: calls, writeKey: TEST_WRITE_KEY })).status).toBe(200);
    expect((await segment('/v1/track', { userId: 'x', event: 'E' }, basicAuth(WRONG_KEY))).status).toBe(401);
    expect((await admin('/api/crm/owners', { owners: [{ owner_id: 'r1', email: EMAILS[1] }] })).status).toBe(
      200,
    );
    const payload = JSON.stringify({
      id: 'evt_logs',
      object: 'event',
      type: 'customer.created',
      created: Math.floor(Date.now() / 1000),
      data: { object: { id: 'cus_logs', object: 'customer', email: EMAILS[2] } },
    });
    const badSignature = Stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_other' });
    const webhook = await fetch(`${t.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': badSignature },
      body: payload,
    });
    expect(webhook.status).toBe(400);
    expect((await fetch(`${t.url}/api/pqls?token=${TEST_ADMIN_TOKEN}`)).status).toBe(200);
    expect((await fetch(`${t.url}/api/pqls?token=${WRONG_KEY}`)).status).toBe(403);

    const text = lines.join('');
    // The log is not empty: it has the request lines and the PQL (so the checks below can fail).
    expect(text).toContain('"route":"/v1/batch"');
    expect(text).toContain('new PQL');
    for (const secret of [...EMAILS, TEST_WRITE_KEY, TEST_ADMIN_TOKEN, WRONG_KEY, STRIPE_SECRET, '@'])
      expect({ secret, found: text.includes(secret) }).toEqual({ secret, found: false });
  });
});
