import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateDemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { main } from './main.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('pql discover', () => {
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pql-discover-'));
    await writeWorkspace(dir, generateDemoWorld({ seed: 7, accounts: 700 }));
  }, 60_000);

  it('prints the report as an object with named arrays, the suggested definition as YAML', async () => {
    const { io, out } = capture();
    expect(await main(['discover', '--data', dir, '--json'], io)).toBe(0);
    const report = JSON.parse(out.join('\n')) as Record<string, unknown> & {
      predictors: { id: string; features: string[]; qValue: number }[];
      population: { observed: number; tooYoung: number };
      horizon: { behaviourDays: number; conversionDays: number };
      definitionYaml: string;
    };
    for (const key of ['candidates', 'predictors', 'thresholds', 'composites'])
      expect(Array.isArray(report[key]), key).toBe(true);
    expect(report.horizon).toMatchObject({ behaviourDays: 30, conversionDays: 90 });
    expect(report.population.observed + report.population.tooYoung).toBe(700);
    expect(report.predictors[0]?.features).toContain('event:Workflow Run');
    expect(report.definitionYaml).toMatch(/^# Suggested by `pql discover`/);
  }, 60_000);

  it('writes a definition that passes pql validate, and prints a ranked table', async () => {
    const { io, out } = capture();
    const path = join(mkdtempSync(join(tmpdir(), 'pql-discover-def-')), 'discovered.yaml');
    const code = await main(
      [
        'discover',
        '--data',
        dir,
        '--behaviour-days',
        '14',
        '--definitions',
        'definitions',
        '--write-definition',
        path,
      ],
      io,
    );
    expect(code).toBe(0);
    const text = out.join('\n');
    expect(text).toMatch(/horizon: behaviour in the first 14 days/);
    expect(text).toMatch(/candidates predict conversion after Benjamini-Hochberg correction/);
    expect(text).toMatch(/#\s+behaviour\s+accounts\s+conv with/);
    expect(text).toContain(`definition written to ${path}`);
    expect(readFileSync(path, 'utf8')).toContain('within: 14d of signup');
    const validate = capture();
    expect(await main(['validate', path], validate.io)).toBe(0);
  }, 60_000);

  it('exits 2 with the reason on stderr for bad input', async () => {
    const cases: [string[], RegExp][] = [
      [['discover'], /give --data DIR/],
      [['discover', '--data', dir, '--data-dir', dir], /not both/],
      [['discover', '--data', dir, '--behaviour-days', 'x'], /--behaviour-days: expected a whole number/],
      [
        ['discover', '--data', dir, '--behaviour-days', '60', '--conversion-days', '30'],
        /--conversion-days: expected at least/,
      ],
      [['discover', '--data', join(dir, 'crm')], /no events.ndjson/],
      [['discover', '--data-dir', join(dir, 'missing')], /no such data directory/],
    ];
    for (const [argv, message] of cases) {
      const { io, err } = capture();
      expect(await main(argv, io), argv.join(' ')).toBe(2);
      expect(err.join('\n')).toMatch(message);
    }
  });
});
