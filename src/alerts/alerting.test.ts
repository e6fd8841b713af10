import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDefinition } from '../core/definitions/parse-definition.js';
import type { ProductEvent } from '../core/events/event.js';
import { OwnerRouter, type Rep } from '../core/routing/owner-router.js';
import { Detector } from '../runtime/detector.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { createAlertPlanner } from './alert-planner.js';
import { channelPlan, createChannels } from './alerting-config.js';
import { DeliveryWorker } from './delivery-worker.js';

const SECRET = `whsec_${Buffer.from('another-test-secret-32-bytes-ok!').toString('base64')}`;
const T0 = Date.UTC(2026, 0, 5);
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function webhookReceiver(): Promise<{ url: string; ids: string[]; bodies: unknown[] }> {
  const ids: string[] = [];
  const bodies: unknown[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      ids.push(String(req.headers['webhook-id']));
      bodies.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/pql`, ids, bodies };
}

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

const source = {
  id: 'calls',
  name: 'Two calls',
  signals: { calls: { event: 'API Call Made', count: { gte: 2 } } },
  qualify: 'calls',
  route: { owner: 'crm', fallback: { round_robin: ['o1', 'o2'] } },
  next_step: 'Say hi to {{account.name}} ({{calls.value}} calls)',
};

describe('alerting end to end', () => {
  it('a new PQL commits with its alert; the worker delivers it, routed and with its next step, once', async () => {
    const parsed = parseDefinition(source);
    if (!parsed.ok) throw new Error('bad definition');
    const receiver = await webhookReceiver();
    const store = SqliteStore.open(':memory:');
    const channels = createChannels({ webhookUrl: receiver.url, webhookSecret: SECRET });
    const reps: Rep[] = [
      {
        ownerId: 'o1',
        name: 'Ana',
        email: undefined,
        slackUserId: undefined,
        territory: undefined,
        weight: 1,
        away: true,
      },
      {
        ownerId: 'o2',
        name: 'Ben',
        email: undefined,
        slackUserId: undefined,
        territory: undefined,
        weight: 1,
        away: false,
      },
    ];
    const detector = await Detector.open(
      store,
      [{ definition: parsed.value, sourcePath: 'x', sourceText: 'x' }],
      {
        alerting: ({ engine, definitions }) =>
          createAlertPlanner({
            store,
            engine,
            definitions,
            router: new OwnerRouter(reps),
            reps: new Map(reps.map((r) => [r.ownerId, r])),
            channelsFor: channelPlan(channels),
            dashboardUrl: 'http://localhost:7070',
          }),
      },
    );
    await store.updateAccountTraits([
      { accountId: 'acc-1', source: 'crm', effectiveAt: T0, traits: { name: 'Acme' } },
    ]);
    await detector.ingest([
      {
        type: 'identify',
        messageId: 'id-1',
        userId: 'acc-1-u',
        anonymousId: undefined,
        timestamp: T0,
        contextGroupId: undefined,
        traits: { email: 'ana@acme.test', name: 'Ana Acme' },
      },
      call('acc-1', 1),
      call('acc-1', 2),
      call('acc-1', 3),
    ]);
    const [queued] = await store.listAlerts();
    expect(queued).toMatchObject({ id: 'calls:acc-1:1/webhook', status: 'pending' });
    const worker = new DeliveryWorker({ store, channels });
    await worker.runOnce();
    await worker.runOnce();
    expect(receiver.ids).toEqual(['calls:acc-1:1/webhook']);
    expect(receiver.bodies[0]).toMatchObject({
      type: 'pql.qualified',
      data: {
        id: 'calls:acc-1:1',
        accountId: 'acc-1',
        accountName: 'Acme',
        owner: { ownerId: 'o2', name: 'Ben', reason: 'round-robin' },
        nextStep: 'Say hi to Acme (2 calls)',
        people: [{ userId: 'acc-1-u', email: 'ana@acme.test', name: 'Ana Acme', events: 3 }],
        accountUrl: 'http://localhost:7070/#/accounts/acc-1',
      },
    });
    expect((await store.listAlerts())[0]?.status).toBe('delivered');
  });

  it('kill -9 between the commit of a PQL and its send: after restart the receiver sees one webhook-id, and it is delivered', async () => {
    const receiver = await webhookReceiver();
    const path = join(mkdtempSync(join(tmpdir(), 'pql-alerts-')), 'pql.sqlite');
    const child = spawn(
      'npx',
      ['tsx', 'src/alerts/test-fixtures/deliver-until-paused.ts', path, receiver.url, SECRET],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        detached: true,
      },
    );
    const pausedId = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const match = /paused (\S+)/.exec(out);
        if (match) resolve(match[1] as string);
      });
      child.on('exit', (code) => reject(new Error(`fixture exited early (${code})`)));
    });
    process.kill(-(child.pid as number), 'SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(receiver.ids).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 600)); // the dead worker's lease runs out
    const store = SqliteStore.open(path);
    const worker = new DeliveryWorker({
      store,
      channels: createChannels({ webhookUrl: receiver.url, webhookSecret: SECRET }),
    });
    await worker.runOnce();
    await worker.runOnce();
    expect(receiver.ids).toEqual([pausedId]);
    expect(await store.getAlert(pausedId)).toMatchObject({
      status: 'delivered',
      attempts: 2,
      possibleDuplicate: true,
    });
    await store.close();
  }, 60_000);
});
