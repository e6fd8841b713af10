import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../core/alerts/alert.js';
import type { QualifiedTransition } from '../core/engine/transition.js';
import { SlackApiChannel } from '../channels/slack/slack-api-channel.js';
import { SlackWebhookChannel } from '../channels/slack/slack-webhook-channel.js';
import { WebhookChannel } from '../channels/webhook/webhook-channel.js';
import type { Channel } from '../channels/channel.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/store.js';
import { DeliveryWorker } from './delivery-worker.js';

const SECRET = `whsec_${Buffer.from('a-test-secret-of-32-bytes-length').toString('base64')}`;
const T0 = Date.UTC(2026, 0, 5);

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly url: string;
}

/** A local HTTP receiver answering with scripted behaviours, recording every request it got. */
async function receiver(
  script: ((req: Received, res: ServerResponse) => void)[],
): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const entry = { headers: req.headers, body, url: req.url ?? '' };
      received.push(entry);
      const behaviour = script[Math.min(received.length - 1, script.length - 1)];
      behaviour?.(entry, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server };
}
const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

const ok = (_req: Received, res: ServerResponse): void => void res.writeHead(200).end('ok');
const status =
  (code: number, headers: Record<string, string> = {}) =>
  (_req: Received, res: ServerResponse) =>
    void res.writeHead(code, headers).end();
const reset = (_req: Received, res: ServerResponse): void => {
  res.socket?.destroy();
};
const hang = (): void => undefined;

/** The Standard Webhooks check, written independently of the product's signer. */
function verifyStandardWebhook(secret: string, headers: IncomingMessage['headers'], body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${String(headers['webhook-id'])}.${String(headers['webhook-timestamp'])}.${body}`;
  const expected = createHmac('sha256', key).update(signed).digest();
  return String(headers['webhook-signature'])
    .split(' ')
    .some((part) => {
      const [version, value] = part.split(',');
      const given = Buffer.from(value ?? '', 'base64');
      return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
    });
}

function alert(accountId: string): Alert {
  return {
    id: '',
    accountId,
    accountName: 'Acme',
    domain: 'acme.io',
    definitionId: 'activated',
    definitionName: 'Activated workspace',
    definitionVersion: 1,
    qualifiedAt: T0,
    detectedAt: T0,
    owner: {
      ownerId: 'o1',
      name: 'Ana',
      slackUserId: 'U123',
      reason: 'CRM owner Ana',
      reasonCode: 'crm-owner',
    },
    why: [],
    fit: [],
    people: [],
    history: {
      signupAt: T0,
      lastSeenAt: T0,
      activeUsers: 2,
      plan: 'free',
      mrr: 0,
      lifecycleStage: undefined,
      mqlAt: undefined,
      milestones: [],
    },
    nextStep: 'Call them',
    accountUrl: undefined,
  };
}

function qualified(accountId: string): QualifiedTransition {
  return {
    kind: 'qualified',
    accountId,
    definitionId: 'activated',
    definitionVersion: 1,
    qualifiedAt: T0,
    triggerEventId: 'm1',
    explanation: { evaluatedAt: T0, holds: true, clauses: [], missing: [] },
  };
}

async function enqueue(store: Store, channel: string, accounts: string[], target = ''): Promise<void> {
  await store.commitTransitions({
    transitions: accounts.map(qualified),
    alerts: accounts.map((a, i) => ({ transitionIndex: i, channel, target, payload: alert(a) })),
    detectedAt: T0,
  });
}

/** A worker on a fake clock; `drain` keeps running it, jumping the clock to the next due alert. */
function worker(store: Store, channel: Channel, options: { maxAttempts?: number } = {}) {
  let now = T0;
  const w = new DeliveryWorker({
    store,
    channels: new Map([[channel.name, channel]]),
    workerId: 'w',
    now: () => now,
    random: () => 0.5,
    baseDelayMs: 1000,
    ...options,
  });
  return {
    w,
    at: () => now,
    async drain(maxRounds = 20): Promise<void> {
      for (let i = 0; i < maxRounds; i++) {
        await w.runOnce();
        const pending = await store.listAlerts({ status: 'pending' });
        if (pending.length === 0) return;
        now = Math.max(now, Math.min(...pending.map((a) => a.nextAttemptAt)));
      }
    },
  };
}

describe('delivery worker with the signed webhook channel', () => {
  it('retries through 500, a reset, a timeout and a 429 (honouring Retry-After: 2) and delivers once, one webhook-id, signed', async () => {
    const r = await receiver([status(500), reset, hang, status(429, { 'Retry-After': '2' }), ok]);
    const store = SqliteStore.open(':memory:');
    await enqueue(store, 'webhook', ['a1']);
    const run = worker(
      store,
      new WebhookChannel({ url: r.url, secret: SECRET, timeoutMs: 300, now: () => run.at() }),
    );
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      times.push(run.at());
      await run.drain(1);
    }
    const [record] = await store.listAlerts();
    expect(record).toMatchObject({ status: 'delivered', attempts: 5 });
    expect(r.received).toHaveLength(5);
    expect(new Set(r.received.map((x) => x.headers['webhook-id']))).toEqual(
      new Set(['activated:a1:1/webhook']),
    );
    for (const request of r.received)
      expect(verifyStandardWebhook(SECRET, request.headers, request.body)).toBe(true);
    expect(verifyStandardWebhook(SECRET, r.received[0]!.headers, `${r.received[0]!.body} `)).toBe(false);
    // Full jitter with random 0.5: 500ms, 1s, 2s; then the 429's Retry-After: exactly 2s.
    expect(times.slice(1).map((t, i) => t - times[i]!)).toEqual([500, 1000, 2000, 2000]);
    expect(JSON.parse(r.received[4]!.body)).toMatchObject({
      type: 'pql.qualified',
      data: { accountId: 'a1' },
    });
  });

  it('remembers an endpoint disabled by 410 across a restart, and enables it again when its alerts are re-queued', async () => {
    const gone = await receiver([status(410), ok]);
    const store = SqliteStore.open(':memory:');
    const target = `${gone.url}/hook`;
    const channel = new WebhookChannel({ url: 'unused', secret: SECRET });
    await enqueue(store, 'webhook', ['a1'], target);
    await worker(store, channel).drain();
    expect(gone.received).toHaveLength(1);

    // A new worker (a restart) does not try the endpoint again for a new alert.
    await store.commitTransitions({
      transitions: [qualified('a2')],
      alerts: [{ transitionIndex: 0, channel: 'webhook', target, payload: alert('a2') }],
      detectedAt: T0,
    });
    await worker(store, channel).drain();
    expect(gone.received).toHaveLength(1);
    expect((await store.listAlerts()).map((a) => a.status)).toEqual(['disabled', 'disabled']);

    // Fixed and re-queued: both go out.
    for (const a of await store.listAlerts()) await store.retryAlert(a.id, T0);
    await worker(store, channel).drain();
    expect(gone.received).toHaveLength(3);
    expect((await store.listAlerts()).map((a) => a.status)).toEqual(['delivered', 'delivered']);
  });

  it('410 disables the endpoint; a 400 is dead-lettered at once; too many failures end in a dead letter with the reason', async () => {
    const gone = await receiver([status(410)]);
    const store = SqliteStore.open(':memory:');
    await enqueue(store, 'webhook', ['a1', 'a2'], `${gone.url}/hook`);
    await worker(store, new WebhookChannel({ url: 'unused', secret: SECRET })).drain();
    expect((await store.listAlerts()).map((a) => [a.status, a.lastError])).toEqual([
      ['disabled', 'HTTP 410'],
      ['disabled', 'endpoint disabled after HTTP 410'],
    ]);
    expect(gone.received).toHaveLength(1);

    const bad = await receiver([status(400)]);
    const store2 = SqliteStore.open(':memory:');
    await enqueue(store2, 'webhook', ['a1']);
    await worker(store2, new WebhookChannel({ url: bad.url, secret: SECRET })).drain();
    expect((await store2.listAlerts())[0]).toMatchObject({
      status: 'dead',
      lastError: 'HTTP 400 (not retried)',
      attempts: 1,
    });

    const down = await receiver([status(503)]);
    const store3 = SqliteStore.open(':memory:');
    await enqueue(store3, 'webhook', ['a1']);
    await worker(store3, new WebhookChannel({ url: down.url, secret: SECRET }), { maxAttempts: 3 }).drain();
    expect((await store3.listAlerts())[0]).toMatchObject({
      status: 'dead',
      lastError: 'HTTP 503 after 3 attempts',
      attempts: 3,
    });
    expect(down.received).toHaveLength(3);
  });
});

describe('Slack channels', () => {
  it('chat.postMessage through @slack/web-api: Block Kit to the rep, 429 Retry-After honoured', async () => {
    const r = await receiver([
      status(429, { 'Retry-After': '3' }),
      (_req, res) =>
        void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ ok: true, ts: '1.0' })),
    ]);
    const store = SqliteStore.open(':memory:');
    await enqueue(store, 'slack-api', ['a1'], 'U123');
    const run = worker(store, new SlackApiChannel({ token: 'xoxb-test', apiUrl: `${r.url}/api` }));
    await run.drain(1);
    expect((await store.listAlerts())[0]).toMatchObject({
      status: 'pending',
      nextAttemptAt: T0 + 3000,
      lastError: 'slack: ratelimited',
    });
    await run.drain();
    expect((await store.listAlerts())[0]).toMatchObject({ status: 'delivered' });
    const last = r.received[1]!;
    expect(last.url).toBe('/api/chat.postMessage');
    expect(last.headers.authorization).toBe('Bearer xoxb-test');
    const sent = Object.fromEntries(new URLSearchParams(last.body)) as Record<string, string>;
    expect(sent['channel']).toBe('U123');
    expect(sent['text']).toContain('New PQL: Acme (acme.io)');
    const blocks = JSON.parse(sent['blocks'] ?? '[]') as { type: string }[];
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'New PQL: Acme (acme.io)' },
    });
  });

  it('paces a Slack target at 1 message per second with a burst of 3, queueing the rest', async () => {
    const r = await receiver([ok]);
    const store = SqliteStore.open(':memory:');
    await enqueue(store, 'slack-webhook', ['a1', 'a2', 'a3', 'a4', 'a5']);
    const run = worker(store, new SlackWebhookChannel(r.url));
    await run.w.runOnce();
    expect(r.received).toHaveLength(3);
    await run.drain();
    const delivered = await store.listAlerts({ status: 'delivered' });
    expect(delivered).toHaveLength(5);
    expect(delivered.map((a) => a.attempts)).toEqual([1, 1, 1, 1, 1]);
    expect(run.at()).toBe(T0 + 2000);
    expect(JSON.parse(r.received[0]!.body)).toMatchObject({ text: expect.stringContaining('New PQL') });
  });

  it('a burst of 500 qualifications to one Slack target becomes one digest message, within Slack limits', async () => {
    const r = await receiver([ok]);
    const store = SqliteStore.open(':memory:');
    await enqueue(
      store,
      'slack-webhook',
      Array.from({ length: 500 }, (_, i) => `acc-${i}`),
    );
    const run = worker(store, new SlackWebhookChannel(r.url));
    await run.w.runOnce();
    expect(r.received).toHaveLength(1);
    expect(await store.listAlerts({ status: 'delivered', limit: 1000 })).toHaveLength(500);
    const digest = JSON.parse(r.received[0]!.body) as {
      text: string;
      blocks: { type: string; text?: { text: string } }[];
    };
    expect(digest.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: '500 new PQLs' } });
    expect(digest.blocks.length).toBeLessThanOrEqual(50);
    for (const block of digest.blocks) expect(block.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    expect(JSON.stringify(digest.blocks)).toContain('Acme');
  });
});

describe('delivery worker polling', () => {
  it('wake() sends a newly committed alert at once instead of at the next poll', async () => {
    const r = await receiver([ok, ok]);
    const store = SqliteStore.open(':memory:');
    const w = new DeliveryWorker({
      store,
      channels: new Map([['webhook', new WebhookChannel({ url: r.url, secret: SECRET })]]),
    });
    w.start(60_000);
    try {
      // The first pass runs at start with nothing due; the next poll would be a minute later.
      await new Promise((resolve) => setTimeout(resolve, 50));
      await enqueue(store, 'webhook', ['woken']);
      const woken = Date.now();
      w.wake();
      while (r.received.length === 0 && Date.now() - woken < 5000)
        await new Promise((resolve) => setTimeout(resolve, 5));
      expect(r.received).toHaveLength(1);
      expect(Date.now() - woken).toBeLessThan(2000);
    } finally {
      await w.stop();
      await store.close();
    }
  });
});
