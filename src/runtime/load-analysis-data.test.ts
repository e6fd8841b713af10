import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitionsFromPath } from '../config/definition-files.js';
import { discoverSignals, funnelsFromDefinitions } from '../core/analysis/discover-signals.js';
import { generateDemoWorld, type DemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { importWorkspace } from '../sources/import-workspace.js';
import { loadWorkspaceSources } from '../sources/joins/workspace-sources.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { comparableTimelines } from '../test-support/comparable-timelines.js';
import { Detector } from './detector.js';
import { AnalysisInputError, loadAnalysisData, type LoadedAnalysisData } from './load-analysis-data.js';

const DAY = 86_400_000;

describe('loadAnalysisData', () => {
  let world: DemoWorld;
  let exportDir: string;
  let fromExport: LoadedAnalysisData;

  beforeAll(async () => {
    world = generateDemoWorld({ seed: 5, accounts: 300 });
    exportDir = mkdtempSync(join(tmpdir(), 'pql-analysis-export-'));
    await writeWorkspace(exportDir, world);
    fromExport = await loadAnalysisData({ exportDir });
  }, 60_000);

  it('gives every account its sign-up (created_at) and its first paid invoice as conversion, joined like the import', async () => {
    const { joins } = await loadWorkspaceSources(exportDir, []);
    const billed = new Set(joins.accountOfCustomer.values());
    const byId = new Map(fromExport.accounts.map((a) => [a.accountId, a]));
    expect(fromExport.accounts).toHaveLength(world.accounts.length);
    let converters = 0;
    for (const truth of world.truth) {
      const timeline = byId.get(truth.accountId);
      expect(timeline?.signupAt, truth.accountId).toBe(truth.signupAt);
      // A customer that never joined (free-mail email, no account_id) gives its account no billing.
      const expected = billed.has(truth.accountId) ? truth.convertedAt : undefined;
      expect(timeline?.convertedAt, truth.accountId).toBe(expected);
      if (expected !== undefined) {
        converters++;
        expect(timeline?.mrr.some(([, mrr]) => mrr > 0)).toBe(true);
      }
    }
    expect(converters).toBeGreaterThan(10);
  });

  it('takes MQL time and owner from the CRM company joined to the account', async () => {
    const { joins } = await loadWorkspaceSources(exportDir, []);
    const companyById = new Map(world.companies.map((c) => [c.companyId, c]));
    let withMql = 0;
    for (const timeline of fromExport.accounts) {
      const companyId = joins.companyOfAccount.get(timeline.accountId);
      const company = companyId === undefined ? undefined : companyById.get(companyId);
      expect(timeline.mqlAt, timeline.accountId).toBe(company?.mqlAt);
      expect(timeline.owner, timeline.accountId).toBe(company?.ownerId);
      if (timeline.mqlAt !== undefined) withMql++;
    }
    expect(withMql).toBeGreaterThan(5);
  });

  it('keeps only behaviour of the first behaviourDays after sign-up, in time order', async () => {
    const short = await loadAnalysisData({ exportDir }, { behaviourDays: 7 });
    let kept = 0;
    for (const a of short.accounts) {
      for (let i = 0; i < a.times.length; i++) {
        const t = a.times[i] as number;
        expect(t).toBeGreaterThanOrEqual(a.signupAt);
        expect(t).toBeLessThan(a.signupAt + 7 * DAY);
        if (i > 0) expect(t).toBeGreaterThanOrEqual(a.times[i - 1] as number);
        kept++;
      }
    }
    const long = fromExport.accounts.reduce((n, a) => n + a.times.length, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(long);
    expect(short.features).toContain('event:Workflow Run');
  });

  it('reads the same timelines from a store the export was imported into', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pql-analysis-store-'));
    const loaded = await loadDefinitionsFromPath('definitions');
    if (!loaded.ok) throw new Error('example definitions do not load');
    const store = SqliteStore.open(join(dataDir, 'pql.sqlite'));
    try {
      const detector = await Detector.open(store, loaded.definitions);
      await importWorkspace(exportDir, detector, { rejectsDir: join(dataDir, 'rejects'), dataDir });
    } finally {
      await store.close();
    }
    const progress: number[] = [];
    const fromStore = await loadAnalysisData({ dataDir }, { onProgress: (done) => progress.push(done) });
    expect(fromStore.load.reader).toBe('store');
    expect(comparableTimelines(fromStore)).toEqual(comparableTimelines(fromExport));
    expect([...fromStore.features].sort()).toEqual([...fromExport.features].sort());
    expect(fromStore.dataEnd).toBe(fromExport.dataEnd);
    expect(fromStore.load.traitChanges).toBe(fromExport.load.traitChanges);
    expect(progress.at(-1)).toBe(fromExport.load.events);
  }, 60_000);

  it('reads the same timelines, counts and discovery report with DuckDB as line by line', async () => {
    expect(fromExport.load.reader).toBe('duckdb');
    const byLine = await loadAnalysisData({ exportDir }, { reader: 'node' });
    expect(byLine.load.reader).toBe('node');
    expect(comparableTimelines(fromExport)).toEqual(comparableTimelines(byLine));
    expect(fromExport.dataEnd).toBe(byLine.dataEnd);
    const counts = ({ load }: LoadedAnalysisData) => [
      load.events,
      load.rejected,
      load.unattributed,
      load.traitChanges,
    ];
    expect(counts(fromExport)).toEqual(counts(byLine));
    const ranked = (data: LoadedAnalysisData) =>
      discoverSignals(data).candidates.map((c) => [c.id, c.accounts, c.converted, c.pValue]);
    expect(ranked(fromExport)).toEqual(ranked(byLine));
  }, 60_000);

  it('counts bad lines and goes on; a folder without events.ndjson is an input error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-analysis-bad-'));
    const good = {
      type: 'group',
      userId: 'u1',
      groupId: 'acc_1',
      timestamp: '2026-01-01T00:00:00Z',
      traits: { created_at: '2026-01-01T00:00:00Z' },
      messageId: 'm1',
    };
    const track = {
      type: 'track',
      userId: 'u1',
      event: 'Project Created',
      timestamp: '2026-01-02T00:00:00Z',
      messageId: 'm2',
    };
    writeFileSync(
      join(dir, 'events.ndjson'),
      `${JSON.stringify(good)}\nnot json\n${JSON.stringify(track)}\n`,
    );
    const data = await loadAnalysisData({ exportDir: dir });
    expect(data.load).toMatchObject({ events: 2, rejected: 1, traitChanges: 0, withoutEvents: 0 });
    expect(data.accounts.map((a) => [a.accountId, a.signupAt, Array.from(a.times)])).toEqual([
      ['acc_1', Date.UTC(2026, 0, 1), [Date.UTC(2026, 0, 2)]],
    ]);
    await expect(loadAnalysisData({ exportDir: join(dir, 'nope') })).rejects.toBeInstanceOf(
      AnalysisInputError,
    );
  });
});

describe('discovery on the demo world (docs/demo-world.md)', () => {
  let world: DemoWorld;
  let data: LoadedAnalysisData;

  beforeAll(async () => {
    world = generateDemoWorld({ seed: 7, accounts: 1000 });
    const dir = mkdtempSync(join(tmpdir(), 'pql-discover-demo-'));
    await writeWorkspace(dir, world);
    data = await loadAnalysisData({ exportDir: dir });
  }, 60_000);

  it('ranks the planted predictor first: the workflow run (the end of the funnel) within 14 days of sign-up', () => {
    const report = discoverSignals(data);
    const observed = world.truth.filter((t) => t.signupAt + 90 * DAY <= data.dataEnd);
    expect(report.population.observed).toBe(observed.length);
    expect(report.population.tooYoung).toBe(world.truth.length - observed.length);
    const top = report.predictors[0];
    expect(top?.id).toBe('within:event:Workflow Run:14d');
    // It flags the accounts that planted the funnel (a few converters did it within a day of paying).
    const planted = observed.filter((t) => t.workflowFunnelWithin14d).length;
    expect(Math.abs((top?.accounts ?? 0) - planted)).toBeLessThanOrEqual(Math.ceil(planted * 0.03));
    expect(top?.lift).toBeGreaterThan(4);
    expect(report.suggestedDefinition).toBeDefined();
  });

  it('ranks the configured four-step funnel first when the definitions are given', async () => {
    const loaded = await loadDefinitionsFromPath('definitions');
    if (!loaded.ok) throw new Error('example definitions do not load');
    const funnels = funnelsFromDefinitions(loaded.definitions.map((d) => d.definition));
    const report = discoverSignals(data, { funnels });
    expect(report.predictors[0]?.id).toBe('funnel:workflow-builder.workflow_funnel:4');
  });

  it('never reports after-paying behaviour (invoices, the billing page) or the placebo features as predictors', () => {
    const report = discoverSignals(data);
    const leaks = ['event:Invoice Downloaded', 'page:Billing'];
    expect(report.predictors.filter((p) => p.features.some((f) => leaks.includes(f)))).toEqual([]);
    for (const placebo of ['page:Docs', 'event:Dashboard Viewed', 'event:Settings Updated']) {
      const done = report.candidates.find((c) => c.id === `done:${placebo}`);
      expect(done?.significant, placebo).toBe(false);
    }
  });
});
