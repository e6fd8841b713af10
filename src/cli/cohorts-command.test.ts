import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld, type DemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import type { CohortAnalysis } from '../runtime/cohort-analysis.js';
import { main, type CliIo } from './main.js';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

async function run(args: readonly string[]): Promise<{ code: number; stdout: string[]; stderr: string[] }> {
  const io = capture();
  const code = await main(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

let world: DemoWorld;
let dir: string;
let monthly: CohortAnalysis;

beforeAll(async () => {
  world = generateDemoWorld({ seed: 5, accounts: 300 });
  dir = mkdtempSync(join(tmpdir(), 'pql-cohorts-cli-'));
  await writeWorkspace(dir, world);
  const out = await run([
    'cohorts',
    '--data',
    dir,
    '--json',
    '--split',
    'definition',
    '--definitions',
    'definitions',
  ]);
  expect(out.code).toBe(0);
  monthly = JSON.parse(out.stdout.join('\n'));
}, 120_000);

const monthOf = (ms: number): string => `${new Date(ms).toISOString().slice(0, 7)}-01`;

describe('pql cohorts on a demo world', () => {
  it('puts every account in its sign-up month and counts cumulative conversions as the world made them', () => {
    const bySignup = new Map<string, number>();
    for (const t of world.truth)
      bySignup.set(monthOf(t.signupAt), (bySignup.get(monthOf(t.signupAt)) ?? 0) + 1);
    expect(monthly.cohorts.map((c) => [c.cohort, c.accounts])).toEqual([...bySignup].sort());
    const dataEnd = Date.parse(monthly.dataEnd as string);
    for (const c of monthly.cohorts) {
      // Periods end by the data's end: a cohort has one period per whole month it has lived through.
      const start = Date.parse(c.cohort);
      const ends = c.periods.map((p) => Date.UTC(new Date(start).getUTCFullYear(), new Date(start).getUTCMonth() + p.period + 1, 1)); // prettier-ignore
      expect(ends.every((end) => end <= dataEnd)).toBe(true);
      expect(Date.UTC(new Date(start).getUTCFullYear(), new Date(start).getUTCMonth() + c.periods.length + 1, 1)).toBeGreaterThan(dataEnd); // prettier-ignore
      const members = world.truth.filter((t) => monthOf(t.signupAt) === c.cohort);
      for (const [k, p] of c.periods.entries()) {
        const end = ends[k] as number;
        // Conversions the billing joins can see: at most what the world made, never more.
        const truth = members.filter((t) => t.convertedAt !== undefined && t.convertedAt < end).length;
        expect(p.converted).toBeLessThanOrEqual(truth);
        expect(p.converted).toBeGreaterThanOrEqual(Math.floor(truth * 0.8));
        expect(p.convertedShare).toBeCloseTo(p.converted / c.accounts, 12);
        if (k > 0)
          expect(p.converted).toBeGreaterThanOrEqual((c.periods[k - 1] as { converted: number }).converted);
      }
    }
  });

  it('splits by qualifying definition with time to PQL and to paid per cohort', () => {
    expect(monthly.splits?.map((s) => s.definitionId)).toEqual([
      'devtool-activated',
      'team-expansion',
      'workflow-builder',
    ]);
    for (const s of monthly.splits ?? [])
      for (const c of s.cohorts)
        expect(c.accounts).toBeLessThanOrEqual(
          monthly.cohorts.find((x) => x.cohort === c.cohort)?.accounts ?? 0,
        );
    const any = monthly.timeToPql.filter((t) => t.definitionId === null);
    expect(any.map((t) => t.cohort)).toEqual(monthly.cohorts.map((c) => c.cohort));
    expect(any.some((t) => t.accounts > 0 && t.medianDays !== null && t.medianDays >= 0)).toBe(true);
    const paid = monthly.timeToPaid.filter((t) => t.definitionId === null);
    const lastConverted = monthly.cohorts.map((c) => c.periods.at(-1)?.converted ?? 0);
    paid.forEach((t, i) => expect(t.accounts).toBeGreaterThanOrEqual(lastConverted[i] as number));
  });

  it('prints CSV rows that match the JSON, and weekly cohorts over the same accounts', async () => {
    const csv = await run(['cohorts', '--data', dir, '--csv']);
    expect(csv.code).toBe(0);
    expect(csv.stdout[0]).toBe('split,cohort,accounts,period,converted,converted_share,mrr,mrr_retention');
    const rows = csv.stdout.slice(1).map((l) => l.split(','));
    expect(rows).toHaveLength(monthly.cohorts.reduce((n, c) => n + c.periods.length, 0));
    const first = monthly.cohorts[0]?.periods[0];
    expect(rows[0]?.slice(0, 5)).toEqual(['', monthly.cohorts[0]?.cohort, String(monthly.cohorts[0]?.accounts), '0', String(first?.converted)]); // prettier-ignore
    expect(Number(rows[0]?.[6])).toBe(first?.mrr);
    const weekly = await run(['cohorts', '--data', dir, '--by', 'week', '--json']);
    const view = JSON.parse(weekly.stdout.join('\n')) as CohortAnalysis;
    expect(view.by).toBe('week');
    expect(view.splits).toBeUndefined();
    expect(view.cohorts.every((c) => new Date(c.cohort).getUTCDay() === 1)).toBe(true);
    expect(view.cohorts.reduce((n, c) => n + c.accounts, 0)).toBe(world.truth.length);
  }, 60_000);

  it('prints readable tables', async () => {
    const text = await run(['cohorts', '--data', dir]);
    expect(text.code).toBe(0);
    const out = text.stdout.join('\n');
    expect(out).toContain('Converted (cumulative share of the cohort):');
    expect(out).toMatch(/cohort\s+accounts\s+m0\s+m1/);
    expect(out).toContain('MRR retention');
    expect(out).toMatch(
      new RegExp(`${monthly.cohorts[0]?.cohort.slice(0, 7)}\\s+${monthly.cohorts[0]?.accounts}\\s`),
    );
  }, 60_000);

  it('reads an imported store (--data-dir) to the same view as the export', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pql-cohorts-store-'));
    expect(
      (await run(['import', dir, '--data-dir', dataDir, '--definitions', 'definitions', '--json'])).code,
    ).toBe(0);
    const out = await run(['cohorts', '--data-dir', dataDir, '--json', '--split', 'definition', '--definitions', 'definitions']); // prettier-ignore
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout.join('\n'))).toEqual(monthly);
  }, 120_000);

  it('exits 2 with the reason on stderr for bad flags', async () => {
    const cases = [
      [['--data', dir, '--by', 'day'], /--by: expected week or month, got "day"/],
      [['--data', dir, '--split', 'owner'], /--split: expected "definition", got "owner"/],
      [['--data', dir, '--json', '--csv'], /either --json or --csv/],
      [['--data', join(dir, 'nope')], /no events\.ndjson/],
    ] as const;
    for (const [flags, message] of cases) {
      const out = await run(['cohorts', ...flags]);
      expect(out.code).toBe(2);
      expect(out.stderr.join('\n')).toMatch(message);
      expect(out.stdout).toEqual([]);
    }
  });
});
