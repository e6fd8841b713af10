import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { generateDemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { importWorkspace } from '../sources/import-workspace.js';
import { ADMIN_HEADERS, startTestServer, type TestServer } from './test-server.js';

const WORKFLOW = readFileSync(join('definitions', 'workflow-builder.yaml'), 'utf8');

async function cli(args: readonly string[]): Promise<unknown> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  if (code !== 0) throw new Error(`pql ${args.join(' ')} exited ${code}: ${err.join('\n')}`);
  return JSON.parse(out.join('\n'));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function get(server: TestServer, path: string): Promise<{ status: number; body: Json }> {
  const response = await fetch(`${server.url}${path}`, { headers: ADMIN_HEADERS });
  return { status: response.status, body: await response.json() };
}

describe('analysis cohort and backtest API', () => {
  let server: TestServer;
  let dataDir: string;

  beforeAll(async () => {
    server = await startTestServer({}, { definitions: { 'workflow-builder.yaml': WORKFLOW } });
    dataDir = dirname(server.definitionsDir);
    const exportDir = mkdtempSync(join(tmpdir(), 'pql-cohorts-api-'));
    await writeWorkspace(exportDir, generateDemoWorld({ seed: 9, accounts: 300 }));
    await importWorkspace(exportDir, server.detector, { rejectsDir: join(exportDir, 'rejects') });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('GET /api/analysis/cohorts answers the cohort view over the store, equal to pql cohorts --data-dir --json', async () => {
    const split = await get(server, '/api/analysis/cohorts?by=month&split=definition');
    expect(split.status).toBe(200);
    expect(split.body.by).toBe('month');
    expect(split.body.cohorts.length).toBeGreaterThan(3);
    expect(split.body.splits.map((s: { definitionId: string }) => s.definitionId)).toEqual(['api-active', 'workflow-builder']); // prettier-ignore
    const args = ['cohorts', '--data-dir', dataDir, '--definitions', server.definitionsDir, '--json'];
    expect(split.body).toEqual(await cli([...args, '--split', 'definition']));
    const weekly = await get(server, '/api/analysis/cohorts?by=week');
    expect(weekly.body).toEqual(await cli([...args, '--by', 'week']));
    expect(weekly.body.splits).toBeUndefined();
    expect(weekly.body.timeToPql).toEqual([]);
  }, 60_000);

  it('GET /api/analysis/backtest replays the live definitions with measures, equal to pql backtest --data-dir --json', async () => {
    const all = await get(server, '/api/analysis/backtest');
    expect(all.status).toBe(200);
    expect(all.body.measures.pqls.total).toBe(all.body.pqls.length);
    expect(all.body).toEqual(
      await cli(['backtest', '--data-dir', dataDir, '--definitions', server.definitionsDir, '--json']),
    );
    const one = await get(server, '/api/analysis/backtest?definitions=workflow-builder&conversionDays=30');
    expect(one.status).toBe(200);
    expect(one.body.measures.conversionDays).toBe(30);
    expect(one.body.measures.byDefinition.map((d: { definitionId: string }) => d.definitionId)).toEqual(['workflow-builder']); // prettier-ignore
    expect(one.body.pqls.every((p: { definitionId: string }) => p.definitionId === 'workflow-builder')).toBe(
      true,
    );
  }, 60_000);

  it('answers 400 with the parameter for bad queries, and 401 without the admin token', async () => {
    for (const [path, parameter] of [
      ['/api/analysis/cohorts?by=day', 'by'],
      ['/api/analysis/cohorts?split=owner', 'split'],
      ['/api/analysis/backtest?definitions=nope', 'definitions'],
      ['/api/analysis/backtest?conversionDays=0', 'conversionDays'],
    ] as const) {
      const bad = await get(server, path);
      expect(bad.status, path).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'invalid_query', path: parameter });
    }
    for (const path of ['/api/analysis/cohorts', '/api/analysis/backtest'])
      expect((await fetch(`${server.url}${path}`)).status).toBe(401);
  });

  it('POST /api/dashboard/backtest keeps its fields and adds the measures of the unsaved definition', async () => {
    const response = await fetch(`${server.url}/api/dashboard/backtest`, {
      method: 'POST',
      headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
      body: JSON.stringify({ text: WORKFLOW }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Json;
    expect(body).toMatchObject({ ok: true, qualified: expect.any(Number), byMonth: expect.any(Array) });
    expect(body.measures.pqls.total).toBe(body.qualified);
    expect(body.measures.byDefinition[0].definitionId).toBe('workflow-builder');
    const cli = (await get(server, '/api/analysis/backtest?definitions=workflow-builder')).body;
    expect(body.measures.conversion).toEqual(cli.measures.conversion);
  }, 60_000);
});
