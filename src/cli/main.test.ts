import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { main, type CliIo } from './main.js';

const T0 = Date.UTC(2026, 0, 5);
const HOUR = 3_600_000;

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

const DEFINITION = `id: three-calls
name: Three API calls
fit: { trait: employees, gte: 10 }
signals:
  calls: { event: API Call Made, count: { gte: 3 } }
qualify: calls
`;

function line(message: Record<string, unknown>): string {
  return JSON.stringify(message);
}

/** A tiny workspace export: acc-1 qualifies at its 3rd call (T0+3h); acc-2 is too small; 3 bad lines. */
function workspace(): { dir: string; definitions: string } {
  const root = mkdtempSync(join(tmpdir(), 'pql-cli-'));
  const dir = join(root, 'export');
  mkdirSync(dir);
  const iso = (ms: number): string => new Date(ms).toISOString();
  const lines = [
    line({
      type: 'group',
      messageId: 'g1',
      userId: 'u1',
      groupId: 'acc-1',
      traits: { employees: 40 },
      timestamp: iso(T0),
    }),
    line({
      type: 'group',
      messageId: 'g2',
      userId: 'u2',
      groupId: 'acc-2',
      traits: { employees: 3 },
      timestamp: iso(T0),
    }),
    ...[1, 2, 3, 4].map((h) =>
      line({
        type: 'track',
        messageId: `c${h}`,
        userId: 'u1',
        event: 'API Call Made',
        timestamp: iso(T0 + h * HOUR),
      }),
    ),
    ...[1, 2, 3].map((h) =>
      line({
        type: 'track',
        messageId: `d${h}`,
        userId: 'u2',
        event: 'API Call Made',
        timestamp: iso(T0 + h * HOUR),
      }),
    ),
    '{"type": "track", "userId": "u1", "messageId": "bad1"', // line 10: not JSON
    line({ type: 'track', messageId: 'bad2', userId: 'u1', timestamp: iso(T0) }), // line 11: no event
    line({ type: 'track', messageId: 'bad3', userId: 'u1', event: 'X', timestamp: 'yesterday' }), // line 12
    line({ type: 'track', messageId: 'c1', userId: 'u1', event: 'API Call Made', timestamp: iso(T0 + HOUR) }), // duplicate
  ];
  writeFileSync(join(dir, 'events.ndjson'), `${lines.join('\n')}\n`);
  const definitions = join(root, 'defs');
  mkdirSync(definitions);
  writeFileSync(join(definitions, 'three-calls.yaml'), DEFINITION);
  return { dir, definitions };
}

describe('pql import', () => {
  it('reports lines read, accepted, duplicates and rejects by reason with line numbers, and writes the rejects', async () => {
    const { dir, definitions } = workspace();
    const dataDir = join(dir, '..', 'data');
    const io = capture();
    const code = await main(
      ['import', dir, '--data-dir', dataDir, '--definitions', definitions, '--json'],
      io,
    );
    expect(io.stderr).toEqual([]);
    expect(code).toBe(0);
    const report = JSON.parse(io.stdout.join('\n'));
    expect(report.files[0]).toMatchObject({ linesRead: 13, accepted: 9, duplicates: 1, rejected: 3 });
    expect(report.files[0].rejectedByReason).toEqual({
      invalid_json: { count: 1, lines: [10], example: expect.stringContaining('line 10') },
      required: { count: 1, lines: [11], example: expect.stringContaining('event') },
      invalid_timestamp: { count: 1, lines: [12], example: expect.stringContaining('yesterday') },
    });
    expect(report.pqls).toBe(1);
    const rejects = readFileSync(join(dataDir, 'rejects', 'events.rejects.ndjson'), 'utf8')
      .trim()
      .split('\n');
    expect(rejects.map((r) => JSON.parse(r).line)).toEqual([10, 11, 12]);
  });

  it('importing the same export again, into the same data directory, qualifies nothing twice', async () => {
    const { dir, definitions } = workspace();
    const dataDir = join(dir, '..', 'data');
    await main(['import', dir, '--data-dir', dataDir, '--definitions', definitions, '--json'], capture());
    const io = capture();
    expect(
      await main(['import', dir, '--data-dir', dataDir, '--definitions', definitions, '--json'], io),
    ).toBe(0);
    const report = JSON.parse(io.stdout.join('\n'));
    expect(report.files[0]).toMatchObject({ accepted: 0, duplicates: 10, rejected: 3 });
    expect(report.pqls).toBe(0);
  });

  it('is silent by default; with --alert it delivers one signed webhook per new PQL', async () => {
    const { dir, definitions } = workspace();
    const quiet = join(dir, '..', 'quiet');
    await main(['import', dir, '--data-dir', quiet, '--definitions', definitions, '--json'], capture());
    const quietStore = SqliteStore.open(join(quiet, 'pql.sqlite'));
    expect(await quietStore.listAlerts()).toEqual([]);
    await quietStore.close();

    const ids: string[] = [];
    const server: Server = createServer((req, res) => {
      ids.push(String(req.headers['webhook-id']));
      req.resume();
      req.on('end', () => res.writeHead(200).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    process.env['PQL_WEBHOOK_URL'] = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    process.env['PQL_WEBHOOK_SECRET'] = `whsec_${Buffer.from('x'.repeat(32)).toString('base64')}`;
    try {
      const io = capture();
      const code = await main(
        ['import', dir, '--data-dir', join(dir, '..', 'loud'), '--definitions', definitions, '--alert'],
        io,
      );
      expect(code).toBe(0);
      expect(ids).toEqual(['three-calls:acc-1:1/webhook']);
      expect(io.stdout).toContain('alerts: 1 delivered, 0 still queued, 0 dead-lettered');
    } finally {
      delete process.env['PQL_WEBHOOK_URL'];
      delete process.env['PQL_WEBHOOK_SECRET'];
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('--alert --config takes channels and routing rules from that pql.yaml, and warns about a definition no channel serves', async () => {
    const { dir, definitions } = workspace();
    mkdirSync(join(dir, 'crm'));
    writeFileSync(
      join(dir, 'crm', 'owners.csv'),
      'owner_id,name,email,slack_user_id,territory\no1,One,,,NA\no9,Nine,,,NA\n',
    );
    writeFileSync(
      join(definitions, 'to-slack.yaml'),
      `${DEFINITION.replace('id: three-calls', 'id: to-slack')}route: { channel: 'slack:#pql' }\n`,
    );
    const bodies: { data: { definitionId: string; owner: unknown } }[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = join(dir, '..', 'pql.yaml');
    writeFileSync(
      config,
      [
        'alerts:',
        `  webhook_url: http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        `  webhook_secret: whsec_${Buffer.from('y'.repeat(32)).toString('base64')}`,
        'routing:',
        '  segments: [{ name: small, max_employees: 100, owners: [o9] }]',
        '',
      ].join('\n'),
    );
    try {
      const io = capture();
      const code = await main(
        [
          'import',
          dir,
          '--data-dir',
          join(dir, '..', 'configured'),
          '--definitions',
          definitions,
          '--alert',
          '--config',
          config,
        ],
        io,
      );
      expect(code).toBe(0);
      expect(io.stderr).toContainEqual(
        expect.stringMatching(
          /^warning: definition to-slack routes to slack:#pql, but no Slack channel is configured .*: its PQLs get no alert$/,
        ),
      );
      expect(bodies.map((b) => [b.data.definitionId, b.data.owner])).toEqual([
        [
          'three-calls',
          { ownerId: 'o9', name: 'Nine', reason: 'segment small (40 employees)', reasonCode: 'segment' },
        ],
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('--alert without a configured channel exits 2 and says what to set', async () => {
    const { dir, definitions } = workspace();
    const io = capture();
    expect(
      await main(
        ['import', dir, '--data-dir', join(dir, '..', 'x'), '--definitions', definitions, '--alert'],
        io,
      ),
    ).toBe(2);
    expect(io.stderr.join('\n')).toContain('--alert: no alert channel is configured');
  });

  it('exits 2 with the message on stderr when the export is missing', async () => {
    const io = capture();
    expect(await main(['import', '/nonexistent/export', '--data-dir', tmpdir()], io)).toBe(2);
    expect(io.stderr.join('\n')).toContain('/nonexistent/export');
  });
});

describe('pql backtest', () => {
  it('prints { pqls } with account, definition, ISO qualifiedAt and the explanation', async () => {
    const { dir, definitions } = workspace();
    const io = capture();
    expect(await main(['backtest', '--definitions', definitions, '--data', dir, '--json'], io)).toBe(0);
    const output = JSON.parse(io.stdout.join('\n'));
    expect(output.pqls).toHaveLength(1);
    expect(output.pqls[0]).toMatchObject({
      accountId: 'acc-1',
      definitionId: 'three-calls',
      qualifiedAt: new Date(T0 + 3 * HOUR).toISOString(),
      triggerEventId: 'c3',
    });
    const calls = output.pqls[0].explanation.clauses.find(
      (c: { path: string }) => c.path === 'signals.calls',
    );
    expect(calls).toMatchObject({ value: 3, eventIds: ['c1', 'c2', 'c3'], eventCount: 3 });
    expect(output.summary).toMatchObject({ events: 10, duplicates: 1, rejected: 3, accounts: 2 });
  });

  it('exits 2 and names the file, line and path of a bad definition; nothing runs', async () => {
    const { dir, definitions } = workspace();
    writeFileSync(
      join(definitions, 'three-calls.yaml'),
      DEFINITION.replace('count: { gte: 3 }', 'count: { gte: 3 }, window: 30 days'),
    );
    const io = capture();
    expect(await main(['backtest', '--definitions', definitions, '--data', dir, '--json'], io)).toBe(2);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(
      /three-calls\.yaml:5:\d+: signals\.calls\.window: expected a duration like "30d", got "30 days"/,
    );
  });

  it('exits 2 on an unknown command', async () => {
    expect(await main(['frobnicate'], capture())).toBe(2);
  });
});
