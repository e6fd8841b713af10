import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.js';
import { generateDemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { importWorkspace } from '../sources/import-workspace.js';
import { ADMIN_HEADERS, startTestServer, type TestServer } from './test-server.js';

/** A workflow funnel definition served beside the test one, so its funnel is a discovery candidate. */
const FUNNEL_DEFINITION = `id: workflow
name: Workflow
signals:
  funnel: { funnel: [Project Created, Workflow Created, Step Added, Workflow Run], within: 14d of signup }
qualify: { all: [funnel] }
`;

describe('GET /api/analysis/discover', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({}, { definitions: { 'workflow.yaml': FUNNEL_DEFINITION } });
    const exportDir = mkdtempSync(join(tmpdir(), 'pql-discover-api-'));
    await writeWorkspace(exportDir, generateDemoWorld({ seed: 7, accounts: 600 }));
    await importWorkspace(exportDir, server.detector, {
      rejectsDir: join(exportDir, 'rejects'),
    });
  }, 90_000);

  afterAll(async () => {
    await server?.stop();
  });

  it('answers the discovery report over the store, equal to pql discover --data-dir --json', async () => {
    const response = await fetch(`${server.url}/api/analysis/discover`, { headers: ADMIN_HEADERS });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown> & {
      predictors: { id: string }[];
      definitionYaml: string;
    };
    for (const key of ['candidates', 'predictors', 'thresholds', 'composites'])
      expect(Array.isArray(body[key]), key).toBe(true);
    expect(body.predictors[0]?.id).toBe('funnel:workflow.funnel:4');
    expect(typeof body.definitionYaml).toBe('string');

    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => undefined };
    const dataDir = dirname(server.definitionsDir);
    expect(await main(['discover', '--data-dir', dataDir, '--definitions', server.definitionsDir, '--json'], io)).toBe(0); // prettier-ignore
    expect(body).toEqual(JSON.parse(out.join('\n')));
  }, 60_000);

  it('takes the horizon from the query and answers 400 for a bad one', async () => {
    const response = await fetch(`${server.url}/api/analysis/discover?behaviourDays=14&conversionDays=60`, {
      headers: ADMIN_HEADERS,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { horizon: { behaviourDays: number; conversionDays: number } };
    expect(body.horizon).toMatchObject({ behaviourDays: 14, conversionDays: 60 });

    for (const query of ['behaviourDays=0', 'conversionDays=abc', 'behaviourDays=40&conversionDays=30']) {
      const bad = await fetch(`${server.url}/api/analysis/discover?${query}`, { headers: ADMIN_HEADERS });
      expect(bad.status, query).toBe(400);
      const error = (await bad.json()) as { error: { code: string } };
      expect(error.error.code).toBe('invalid_query');
    }
  }, 60_000);

  it('needs the admin token', async () => {
    const response = await fetch(`${server.url}/api/analysis/discover`);
    expect(response.status).toBe(401);
  });
});
