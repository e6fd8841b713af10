import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadWorkspaceSources } from './workspace-sources.js';

const T0 = Date.UTC(2026, 2, 2);

function exportWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pql-sources-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const events = ['acc_1', 'acc_2']
  .map((account, i) =>
    JSON.stringify({
      type: 'group',
      messageId: `g${i}`,
      userId: `u${i}`,
      groupId: account,
      timestamp: new Date(T0 + i).toISOString(),
      traits: { domain: `${account}.example` },
    }),
  )
  .join('\n');

describe('loadWorkspaceSources', () => {
  it('skips the pass over events.ndjson when there is no CRM or billing file to join accounts to', async () => {
    const dir = exportWith({ 'events.ndjson': events });
    const sources = await loadWorkspaceSources(dir, []);
    expect(sources.joins.report.summary.accounts).toBe(0);
    expect(sources.traitChanges).toEqual([]);
  });

  it('still counts every account for the join report when asked to scan always', async () => {
    const dir = exportWith({ 'events.ndjson': events });
    const sources = await loadWorkspaceSources(dir, [], { alwaysScanAccounts: true });
    expect(sources.joins.report.summary.accounts).toBe(2);
  });

  it('scans the accounts when a CRM companies file is there to join them to', async () => {
    const header =
      'company_id,name,domain,employees,industry,country,owner_id,lifecycle_stage,lead_source,mql_at,created_at,updated_at';
    const dir = exportWith({
      'events.ndjson': events,
      'crm/companies.csv': `${header}\nc1,One,acc_1.example,12,software,US,o1,lead,web,,2026-01-01,2026-01-01\n`,
    });
    const sources = await loadWorkspaceSources(dir, []);
    expect(sources.joins.report.summary.accounts).toBe(2);
  });
});
