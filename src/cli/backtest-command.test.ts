import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld, type DemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { main, type CliIo } from './main.js';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

const DEFINITIONS = 'definitions';
let world: DemoWorld;
let dir: string;
let json: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  world = generateDemoWorld({ seed: 11, accounts: 400 });
  dir = mkdtempSync(join(tmpdir(), 'pql-backtest-cli-'));
  await writeWorkspace(dir, world);
  const io = capture();
  expect(await main(['backtest', '--definitions', DEFINITIONS, '--data', dir, '--json'], io)).toBe(0);
  json = JSON.parse(io.stdout.join('\n'));
}, 120_000);

describe('pql backtest measures on a demo world', () => {
  it('keeps { pqls, summary } and adds measures whose counts agree with the PQLs listed', () => {
    const pqls = json['pqls'] as { accountId: string; definitionId: string }[];
    const m = json['measures'];
    expect(pqls.length).toBeGreaterThan(20);
    expect(json['summary'].byDefinition.map((d: { pqls: number }) => d.pqls).reduce((a: number, b: number) => a + b)).toBe(pqls.length); // prettier-ignore
    expect(m.pqls.total).toBe(pqls.length);
    expect(m.pqls.accounts).toBe(new Set(pqls.map((p) => p.accountId)).size);
    expect(m.perWeek.reduce((sum: number, w: { pqls: number }) => sum + w.pqls, 0)).toBe(pqls.length);
    expect(m.perRep.reduce((sum: number, r: { pqls: number }) => sum + r.pqls, 0)).toBe(pqls.length);
    // The demo's CRM assigns reps, so most PQLs have an owner as of their qualification.
    const owned = m.perRep.filter((r: { owner: string | null }) => r.owner !== null);
    expect(owned.length).toBeGreaterThan(1);
    expect(owned.every((r: { owner: string }) => world.owners.some((o) => o.ownerId === r.owner))).toBe(true);
    const c = m.converters;
    expect(c.caught + c.flaggedAfterConversion + c.flaggedTooEarly + c.neverFlagged).toBe(c.total);
    expect(m.byDefinition.map((d: { definitionId: string }) => d.definitionId).sort()).toEqual([
      'devtool-activated',
      'team-expansion',
      'workflow-builder',
    ]);
    for (const d of m.byDefinition)
      expect(d.pqls.total).toBe(pqls.filter((p) => p.definitionId === d.definitionId).length);
  });

  it('measures conversion against the ground truth of the world: PQLs convert more often than non-PQLs', () => {
    const m = json['measures'];
    // Every converter the backtest counts paid in the world, and no earlier than the world says.
    const truth = new Map(world.truth.map((t) => [t.accountId, t]));
    for (const e of m.converters.neverFlaggedExamples)
      expect(Date.parse(e.convertedAt)).toBeGreaterThanOrEqual(
        truth.get(e.accountId)?.convertedAt ?? Infinity,
      );
    expect(m.converters.total).toBeLessThanOrEqual(
      world.truth.filter((t) => t.convertedAt !== undefined).length,
    );
    expect(m.conversion.pqls.rate).toBeGreaterThan(m.conversion.nonPqls.rate);
    expect(m.ratios.pqlToNonPql.ratio).toBeGreaterThan(1);
    expect(m.precision).toBe(m.conversion.pqls.rate);
    expect(m.leadTimeDays.p25).toBeLessThanOrEqual(m.leadTimeDays.median);
    expect(m.leadTimeDays.median).toBeLessThanOrEqual(m.leadTimeDays.p75);
  });

  it('prints the measures, the baseline side by side and conversion by sign-up cohort as text', async () => {
    const io = capture();
    const args = [
      'backtest',
      '--definitions',
      DEFINITIONS,
      '--data',
      dir,
      '--baseline',
      DEFINITIONS,
      '--by-cohort',
    ];
    expect(await main(args, io)).toBe(0);
    const text = io.stdout.join('\n');
    expect(text).toMatch(/PQL\/MQL ratio\s+\S+\s+\S+/);
    expect(text).toMatch(/precision\s+\d+\.\d%\s+\d+\.\d%/);
    expect(text).toContain('PQL conversion by sign-up month');
    expect(text).toMatch(/earlier half of the PQLs .* Fisher p = /);
  }, 120_000);

  it('gives a baseline equal to the candidate when both are the same definitions, and a shorter horizon changes the measures', async () => {
    const io = capture();
    const args = ['backtest', '--definitions', DEFINITIONS, '--data', dir, '--baseline', DEFINITIONS];
    expect(await main([...args, '--conversion-days', '30', '--json'], io)).toBe(0);
    const out = JSON.parse(io.stdout.join('\n'));
    expect(out.baseline.measures).toEqual(out.measures);
    expect(out.measures.conversionDays).toBe(30);
    expect(out.measures.converters.caught).toBeLessThanOrEqual(json['measures'].converters.caught);
  }, 120_000);

  it('exits 2 with the reason on stderr for a bad horizon, for both --data and --data-dir, and for neither', async () => {
    const cases = [
      [
        ['--data', dir, '--conversion-days', '0'],
        /--conversion-days: expected a number of days > 0, got "0"/,
      ],
      [['--data', dir, '--data-dir', dir], /not both/],
      [[], /expected --data DIR/],
      [['--data-dir', mkdtempSync(join(tmpdir(), 'pql-empty-'))], /no pql\.sqlite in it/],
    ] as const;
    for (const [flags, message] of cases) {
      const io = capture();
      expect(await main(['backtest', '--definitions', DEFINITIONS, ...flags], io)).toBe(2);
      expect(io.stderr.join('\n')).toMatch(message);
      expect(io.stdout).toEqual([]);
    }
  });

  it('backtests a store imported from the same export (--data-dir) to the same PQLs and measures', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pql-backtest-store-'));
    writeFileSync(join(dataDir, '.keep'), '');
    expect(
      await main(['import', dir, '--data-dir', dataDir, '--definitions', DEFINITIONS, '--json'], capture()),
    ).toBe(0);
    const io = capture();
    expect(await main(['backtest', '--definitions', DEFINITIONS, '--data-dir', dataDir, '--json'], io)).toBe(
      0,
    );
    const out = JSON.parse(io.stdout.join('\n'));
    const key = (p: { accountId: string; definitionId: string; qualifiedAt: string }): string =>
      `${p.definitionId} ${p.accountId} ${p.qualifiedAt}`;
    expect(out.pqls.map(key).sort()).toEqual(json['pqls'].map(key).sort());
    expect(out.measures.conversion).toEqual(json['measures'].conversion);
    expect(out.measures.converters).toEqual(json['measures'].converters);
  }, 120_000);
});
