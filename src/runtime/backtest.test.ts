import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDefinitionsFromPath } from '../config/definition-files.js';
import { generateDemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { backtestWorkspace } from './backtest.js';

describe('backtestWorkspace', () => {
  it('uses billing as of each moment: an account already paying never qualifies under exclude: paying', async () => {
    const world = generateDemoWorld({ seed: 11, accounts: 400 });
    const dir = mkdtempSync(join(tmpdir(), 'pql-backtest-'));
    await writeWorkspace(dir, world);
    const loaded = await loadDefinitionsFromPath('definitions');
    if (!loaded.ok) throw new Error('examples do not load');
    const result = await backtestWorkspace(
      dir,
      loaded.definitions.map((d) => d.definition),
    );
    expect(result.traitChanges).toBeGreaterThan(0);
    const truth = new Map(world.truth.map((t) => [t.accountId, t]));
    const pqls = result.transitions.flatMap((t) => (t.kind === 'qualified' ? [t] : []));
    expect(pqls.length).toBeGreaterThan(20);
    const paidBefore = pqls.filter((p) => {
      const t = truth.get(p.accountId);
      return (
        t?.convertedAt !== undefined &&
        t.convertedAt < p.qualifiedAt &&
        (t.churnedAt === undefined || t.churnedAt > p.qualifiedAt)
      );
    });
    expect(paidBefore.map((p) => p.accountId)).toEqual([]);
    // Leakage check the other way: accounts that paid later do qualify before paying.
    expect(pqls.some((p) => (truth.get(p.accountId)?.convertedAt ?? 0) > p.qualifiedAt)).toBe(true);
  }, 60_000);
});
