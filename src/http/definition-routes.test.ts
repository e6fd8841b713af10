import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ADMIN_HEADERS,
  TEST_DEFINITION,
  TEST_WRITE_KEY,
  basicAuth,
  startTestServer,
  type TestServer,
} from './test-server.js';

let t: TestServer;
beforeEach(async () => {
  t = await startTestServer();
});
afterEach(async () => {
  await t.stop();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${t.url}${path}`, {
    method,
    headers: { ...ADMIN_HEADERS, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function calls(accountId: string, from: number, count: number): Promise<void> {
  const batch = Array.from({ length: count }, (_, i) => ({
    type: 'track',
    messageId: `${accountId}-${from + i}`,
    userId: `${accountId}-u`,
    event: 'API Call Made',
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, from + i)).toISOString(),
    context: { groupId: accountId },
  }));
  const answer = await fetch(`${t.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basicAuth(TEST_WRITE_KEY) },
    body: JSON.stringify({ batch }),
  });
  expect(answer.status).toBe(200);
}

async function pqlAccounts(): Promise<string[]> {
  const answer = await call('GET', '/api/pqls?definition=api-active');
  return (answer.body['pqls'] as { accountId: string }[]).map((p) => p.accountId).sort();
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const TWO_CALLS = TEST_DEFINITION.replace('gte: 3', 'gte: 2');

describe('definitions through the API', () => {
  it('validates a definition with the line and path of each problem, without saving it', async () => {
    const bad = TEST_DEFINITION.replace('count: { gte: 3 }', 'count: { gte: many }');
    const answer = await call('POST', '/api/definitions/validate', { id: 'api-active', text: bad });
    expect(answer.status).toBe(422);
    expect(answer.body['problems']).toEqual([
      expect.objectContaining({ line: 4, path: 'signals.calls.count.gte' }),
    ]);
    const good = await call('POST', '/api/definitions/validate', { id: 'api-active', text: TWO_CALLS });
    expect(good.body).toMatchObject({ ok: true, definitions: [{ id: 'api-active' }] });
    expect(readFileSync(join(t.definitionsDir, 'api-active.yaml'), 'utf8')).toBe(TEST_DEFINITION);
  });

  it('a definition PUT is written to the folder and goes live as a new version; accounts that now hold qualify, earlier ones are not doubled', async () => {
    await calls('acc-three', 0, 3);
    await calls('acc-two', 10, 2);
    expect(await pqlAccounts()).toEqual(['acc-three']);

    const put = await call('PUT', '/api/definitions/api-active', { text: TWO_CALLS });
    expect(put.body).toMatchObject({ ok: true, id: 'api-active', version: 2 });
    expect(readFileSync(join(t.definitionsDir, 'api-active.yaml'), 'utf8')).toBe(TWO_CALLS);
    expect(await pqlAccounts()).toEqual(['acc-three', 'acc-two']);
    const pqls = await t.store.listPqls({ definitionId: 'api-active' });
    expect(pqls.map((p) => `${p.accountId}@${p.definitionVersion}`).sort()).toEqual([
      'acc-three@1',
      'acc-two@2',
    ]);

    // Live detection runs the new version: a fresh account now qualifies at its second call.
    await calls('acc-new', 20, 2);
    expect(await pqlAccounts()).toEqual(['acc-new', 'acc-three', 'acc-two']);

    const history = await call('GET', '/api/definitions/api-active');
    expect(history.body).toMatchObject({ version: 2, source: TWO_CALLS });
    expect((history.body['versions'] as { version: number }[]).map((v) => v.version)).toEqual([1, 2]);
  });

  it('refuses a PUT whose text defines another id, naming the field', async () => {
    const answer = await call('PUT', '/api/definitions/api-active', {
      text: TEST_DEFINITION.replace('id: api-active', 'id: other'),
    });
    expect(answer.status).toBe(422);
    expect(answer.body['problems']).toEqual([expect.objectContaining({ code: 'id_mismatch', path: 'id' })]);
  });

  it('a file edited on disk is picked up; a broken edit keeps the last good version live and reports why', async () => {
    const file = join(t.definitionsDir, 'api-active.yaml');
    writeFileSync(file, TWO_CALLS);
    await until(async () => {
      const list = await call('GET', '/api/definitions');
      return (list.body['definitions'] as { version: number }[])[0]?.version === 2;
    });

    writeFileSync(file, TEST_DEFINITION.replace('count: { gte: 3 }', 'count: { gte: many }'));
    await until(async () => ((await call('GET', '/api/definitions')).body['problems'] as []).length > 0);
    const list = await call('GET', '/api/definitions');
    expect(list.body['definitions']).toEqual([expect.objectContaining({ id: 'api-active', version: 2 })]);
    expect(list.body['problems']).toEqual([
      expect.objectContaining({ file, line: 4, path: 'signals.calls.count.gte' }),
    ]);

    // Still detecting with version 2.
    await calls('acc-after', 30, 2);
    expect(await pqlAccounts()).toEqual(['acc-after']);
  });
});
