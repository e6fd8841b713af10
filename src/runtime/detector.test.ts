import { describe, expect, it } from 'vitest';
import type { LoadedDefinition } from '../config/definition-files.js';
import { parseDefinition } from '../core/definitions/parse-definition.js';
import type { ProductEvent } from '../core/events/event.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { Detector } from './detector.js';

const T0 = Date.UTC(2026, 0, 5);
const HOUR = 3_600_000;

function calls(threshold: number): LoadedDefinition {
  const source = {
    id: 'calls',
    name: 'Calls',
    signals: { calls: { event: 'API Call Made', count: { gte: threshold } } },
    qualify: 'calls',
  };
  const parsed = parseDefinition(source);
  if (!parsed.ok) throw new Error('bad definition');
  return { definition: parsed.value, sourcePath: 'calls.yaml', sourceText: JSON.stringify(source) };
}

function call(account: string, n: number): ProductEvent {
  return {
    type: 'track',
    messageId: `${account}-${n}`,
    userId: `${account}-user`,
    anonymousId: undefined,
    timestamp: T0 + n * HOUR,
    contextGroupId: account,
    event: 'API Call Made',
    properties: {},
  };
}

describe('Detector', () => {
  it('a new version of a definition keeps its id: qualified accounts are not alerted again, newly holding ones are', async () => {
    const store = SqliteStore.open(':memory:');
    const v1 = await Detector.open(store, [calls(3)], { now: () => 1 });
    const first = await v1.ingest([call('a', 1), call('a', 2), call('a', 3), call('b', 1), call('b', 2)]);
    expect(first.transitions.map((t) => [t.kind, t.accountId, t.definitionVersion])).toEqual([
      ['qualified', 'a', 1],
    ]);

    const v2 = await Detector.open(store, [calls(2)], { now: () => 2 });
    expect(v2.definitions[0]?.version).toBe(2);
    const pqls = await store.listPqls();
    expect(pqls.map((p) => [p.accountId, p.definitionVersion, p.qualifiedAt]).sort()).toEqual([
      ['a', 1, T0 + 3 * HOUR],
      ['b', 2, T0 + 2 * HOUR],
    ]);
    await store.close();
  });

  it('restarting on the same store resumes without qualifying anything twice', async () => {
    const store = SqliteStore.open(':memory:');
    const before = await Detector.open(store, [calls(2)]);
    await before.ingest([call('a', 1), call('a', 2)]);
    const after = await Detector.open(store, [calls(2)]);
    expect(after.definitions[0]?.version).toBe(1);
    const again = await after.ingest([call('a', 3), call('a', 2), call('b', 1), call('b', 2)]);
    expect(again).toMatchObject({ inserted: 3, duplicates: 1 });
    expect(again.transitions.map((t) => [t.kind, t.accountId])).toEqual([['qualified', 'b']]);
    expect((await store.listPqls()).length).toBe(2);
    await store.close();
  });

  it('CRM and billing trait changes survive a restart: they replay with the events, in time order', async () => {
    const store = SqliteStore.open(':memory:');
    const source = {
      id: 'fit-calls',
      name: 'Fit calls',
      fit: { trait: 'employees', gte: 10 },
      signals: { calls: { event: 'API Call Made', count: { gte: 2 } } },
      qualify: 'calls',
      exclude: { trait: 'paying', eq: true },
    };
    const parsed = parseDefinition(source);
    if (!parsed.ok) throw new Error('bad definition');
    const loaded = [{ definition: parsed.value, sourcePath: 'x.yaml', sourceText: JSON.stringify(source) }];
    const crm = {
      kind: 'traits' as const,
      accountId: 'a',
      source: 'crm' as const,
      effectiveAt: T0,
      traits: { employees: 40 },
      changeId: 'crm-a',
    };
    const paying = {
      kind: 'traits' as const,
      accountId: 'b',
      source: 'billing' as const,
      effectiveAt: T0,
      traits: { paying: true },
      changeId: 'pay-b',
    };
    const bFit = { ...crm, accountId: 'b', changeId: 'crm-b' };
    const before = await Detector.open(store, loaded);
    expect(await before.applyTraitChanges([crm, paying, bFit, crm])).toEqual([]);
    await before.ingest([call('a', 1), call('b', 1)]);
    const after = await Detector.open(store, loaded);
    const out = await after.ingest([call('a', 2), call('b', 2)]);
    expect(out.transitions.map((t) => [t.kind, t.accountId])).toEqual([['qualified', 'a']]);
    await store.close();
  });
});
