import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { Webhook } from 'standardwebhooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServe } from './serve-command.js';

describe('pql serve', () => {
  it('starts on the configured port, prints the generated secrets, ingests, and shuts down on request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-serve-'));
    const lines: string[] = [];
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const previousLevel = process.env['PQL_LOG_LEVEL'];
    process.env['PQL_LOG_LEVEL'] = 'silent';
    try {
      const running = runServe(
        { port: '0', host: '127.0.0.1', dataDir: dir },
        { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        { stop: stopped },
      );
      while (!lines.some((l) => l.startsWith('write key'))) await new Promise((r) => setTimeout(r, 20));
      const url = /listening on (\S+)/.exec(lines[0] ?? '')?.[1] ?? '';
      const writeKey =
        lines
          .find((l) => l.startsWith('write key'))
          ?.split(': ')
          .pop() ?? '';
      const admin =
        lines
          .find((l) => l.startsWith('admin token'))
          ?.split(': ')
          .pop() ?? '';
      const answer = await fetch(`${url}/v1/track`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({ userId: 'u1', event: 'API Call Made', context: { groupId: 'acc1' } }),
      });
      expect(answer.status).toBe(200);
      const stats = (await (
        await fetch(`${url}/api/stats`, { headers: { authorization: `Bearer ${admin}` } })
      ).json()) as { events: { stored: number } };
      expect(stats.events.stored).toBe(1);
      stop();
      await running;
      expect(lines.at(-1)).toContain('shutting down');
    } finally {
      if (previousLevel === undefined) delete process.env['PQL_LOG_LEVEL'];
      else process.env['PQL_LOG_LEVEL'] = previousLevel;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pql serve with alerting', () => {
  it('delivers a signed webhook for the PQL an ingested event completes, once, routed to a rep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-serve-alert-'));
    mkdirSync(join(dir, 'definitions'));
    writeFileSync(
      join(dir, 'definitions', 'calls.yaml'),
      'id: calls\nname: Calls\nsignals:\n  calls: { event: API Call Made, count: { gte: 2 } }\nqualify: calls\nroute: { owner: crm, fallback: { round_robin: [o1] } }\nnext_step: "Call them about {{calls.value}} calls"\n',
    );
    mkdirSync(join(dir, 'data', 'crm'), { recursive: true });
    writeFileSync(
      join(dir, 'data', 'crm', 'owners.json'),
      JSON.stringify({ owners: [{ ownerId: 'o1', name: 'Olga' }] }),
    );
    const secret = `whsec_${Buffer.from('serve-test-secret-of-32-bytes-ok').toString('base64')}`;
    const received: { id: string; body: string; headers: Record<string, string> }[] = [];
    const receiver = createHttpServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({
          id: String(req.headers['webhook-id']),
          body,
          headers: req.headers as Record<string, string>,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    process.env['PQL_LOG_LEVEL'] = 'silent';
    process.env['PQL_WEBHOOK_URL'] = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    process.env['PQL_WEBHOOK_SECRET'] = secret;
    const lines: string[] = [];
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    let listening: { url: string; writeKey: string } | undefined;
    try {
      const running = runServe(
        {
          port: '0',
          host: '127.0.0.1',
          dataDir: join(dir, 'data'),
          definitions: join(dir, 'definitions'),
        },
        { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        {
          stop: stopped,
          onListening: (url, _admin, keys) => (listening = { url, writeKey: keys[0] ?? '' }),
        },
      );
      while (listening === undefined) await new Promise((r) => setTimeout(r, 20));
      const { url, writeKey } = listening;
      expect(lines).toContain('alerts: delivering to webhook');
      const batch = [1, 2, 3].map((n) => ({
        type: 'track',
        messageId: `m-${n}`,
        userId: 'u1',
        event: 'API Call Made',
        context: { groupId: 'acc-1' },
      }));
      const answer = await fetch(`${url}/v1/batch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        },
        body: JSON.stringify({ batch }),
      });
      expect(answer.status).toBe(200);
      const deadline = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 300));
      expect(received.map((r) => r.id)).toEqual(['calls:acc-1:1/webhook']);
      const [first] = received;
      if (first === undefined) throw new Error('no webhook');
      const verified = new Webhook(secret).verify(first.body, first.headers) as {
        data: { owner: { name: string }; nextStep: string };
      };
      expect(verified.data.owner.name).toBe('Olga');
      expect(verified.data.nextStep).toBe('Call them about 2 calls');
      stop();
      await running;
    } finally {
      process.env = saved;
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pql serve with live sources', () => {
  it('takes CRM owners and companies and signed Stripe webhooks, and routes the next PQL to the CRM owner just upserted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-serve-sources-'));
    mkdirSync(join(dir, 'definitions'));
    writeFileSync(
      join(dir, 'definitions', 'calls.yaml'),
      'id: calls\nname: Calls\nsignals:\n  calls: { event: API Call Made, count: { gte: 2 } }\nqualify: calls\n',
    );
    const secret = `whsec_${Buffer.from('serve-sources-secret-32-bytes-ok').toString('base64')}`;
    const stripeSecret = 'whsec_serve_stripe';
    const received: { body: string; headers: Record<string, string> }[] = [];
    const receiver = createHttpServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ body, headers: req.headers as Record<string, string> });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const saved = { ...process.env };
    process.env['PQL_LOG_LEVEL'] = 'silent';
    process.env['PQL_WEBHOOK_URL'] = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    process.env['PQL_WEBHOOK_SECRET'] = secret;
    process.env['PQL_STRIPE_WEBHOOK_SECRET'] = stripeSecret;
    const lines: string[] = [];
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    let listening: { url: string; admin: string; writeKey: string } | undefined;
    try {
      const running = runServe(
        { port: '0', host: '127.0.0.1', dataDir: join(dir, 'data'), definitions: join(dir, 'definitions') },
        { out: (l) => lines.push(l), err: (l) => lines.push(l) },
        {
          stop: stopped,
          onListening: (url, admin, keys) => (listening = { url, admin, writeKey: keys[0] ?? '' }),
        },
      );
      while (listening === undefined) await new Promise((r) => setTimeout(r, 20));
      const { url, admin, writeKey } = listening;
      expect(lines).toContain(
        'sources: CRM upserts at /api/crm/companies and /api/crm/owners; Stripe webhook at /webhooks/stripe',
      );
      const adminPost = (path: string, body: unknown) =>
        fetch(`${url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
          body: JSON.stringify(body),
        });
      const ingest = (batch: unknown[]) =>
        fetch(`${url}/v1/batch`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
          },
          body: JSON.stringify({ batch }),
        });
      const owners = await adminPost('/api/crm/owners', {
        results: [{ id: '501', firstName: 'Nadia', lastName: 'Reyes', email: 'nadia@sales.example' }],
      });
      expect(owners.status).toBe(200);
      const grouped = await ingest([
        {
          type: 'group',
          messageId: 'g1',
          userId: 'u1',
          groupId: 'acc-2',
          traits: { domain: 'acc2.example' },
        },
      ]);
      expect(grouped.status).toBe(200);
      const company = await adminPost('/api/crm/companies', {
        results: [{ id: 'hs-1', properties: { domain: 'acc2.example', hubspot_owner_id: '501' } }],
      });
      expect(await company.json()).toMatchObject({ accepted: 1, joined: 1 });
      const stripePayload = JSON.stringify({
        id: 'evt_serve_1',
        object: 'event',
        type: 'customer.created',
        created: Math.floor(Date.now() / 1000),
        data: { object: { id: 'cus_s1', object: 'customer', metadata: { account_id: 'acc-2' } } },
      });
      const stripeAnswer = await fetch(`${url}/webhooks/stripe`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({
            payload: stripePayload,
            secret: stripeSecret,
          }),
        },
        body: stripePayload,
      });
      expect(await stripeAnswer.json()).toMatchObject({ applied: true, accountId: 'acc-2' });
      const calls = [1, 2].map((n) => ({
        type: 'track',
        messageId: `c-${n}`,
        userId: 'u1',
        event: 'API Call Made',
        context: { groupId: 'acc-2' },
      }));
      expect((await ingest(calls)).status).toBe(200);
      const deadline = Date.now() + 10_000;
      while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const [first] = received;
      if (first === undefined) throw new Error('no webhook');
      const verified = new Webhook(secret).verify(first.body, first.headers) as {
        data: { owner: { ownerId: string; name: string } };
      };
      expect(verified.data.owner).toMatchObject({ ownerId: '501', name: 'Nadia Reyes' });
      stop();
      await running;
    } finally {
      process.env = saved;
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
