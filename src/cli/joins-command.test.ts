import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateDemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { main } from './main.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe('pql joins', () => {
  it('prints the join-health report of a demo export as an object with named arrays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-joins-'));
    await writeWorkspace(dir, generateDemoWorld({ seed: 3, accounts: 120 }));
    const { io, out } = capture();
    expect(await main(['joins', '--data', dir, '--json'], io)).toBe(0);
    const report = JSON.parse(out.join('\n')) as Record<string, unknown> & {
      matched: { by: string }[];
      freeMail: unknown[];
      summary: { accounts: number; crm: { subjects: number; matchedById: number; matchedByDomain: number } };
    };
    for (const key of ['matched', 'unmatched', 'ambiguous', 'freeMail', 'companiesWithoutAccount'])
      expect(Array.isArray(report[key])).toBe(true);
    expect(report.summary.accounts).toBe(120);
    expect(report.summary.crm.matchedById).toBeGreaterThan(0);
    expect(report.summary.crm.matchedByDomain).toBeGreaterThan(0);
    expect(report.freeMail.length).toBeGreaterThan(0);
  });

  it('reports the same joins from the store of an import as from the export itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-joins-'));
    const dataDir = join(dir, 'data');
    await writeWorkspace(dir, generateDemoWorld({ seed: 3, accounts: 120 }));
    expect(await main(['import', dir, '--data-dir', dataDir, '--json'], capture().io)).toBe(0);
    const fromExport = capture();
    const fromStore = capture();
    expect(await main(['joins', '--data', dir, '--json'], fromExport.io)).toBe(0);
    expect(await main(['joins', '--data-dir', dataDir, '--json'], fromStore.io)).toBe(0);
    const summary = (out: string[]) => (JSON.parse(out.join('\n')) as { summary: unknown }).summary;
    expect(summary(fromStore.out)).toEqual(summary(fromExport.out));
    const text = capture();
    expect(await main(['joins', '--data-dir', dataDir], text.io)).toBe(0);
    expect(text.out[0]).toBe('120 accounts in the store');
  });

  it('exits 2 without exactly one of --data and --data-dir', async () => {
    const { io, err } = capture();
    expect(await main(['joins'], io)).toBe(2);
    expect(err.join('\n')).toMatch(/give one of --data DIR \(an export\) or --data-dir D \(a store\)/);
  });

  it('exits 2 naming a missing required column', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pql-joins-'));
    await writeWorkspace(dir, generateDemoWorld({ seed: 3, accounts: 20 }));
    writeFileSync(join(dir, 'crm', 'owners.csv'), 'owner_id,name\nowner-1,Ann\n');
    const { io, err } = capture();
    expect(await main(['joins', '--data', dir], io)).toBe(2);
    expect(err.join('\n')).toMatch(
      /owners\.csv: missing required columns "email", "slack_user_id", "territory"/,
    );
  });
});
