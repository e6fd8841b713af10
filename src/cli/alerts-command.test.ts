import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { main, type CliIo } from './main.js';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

describe('pql alerts', () => {
  it('lists, shows and retries dead-lettered alerts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pql-alerts-cli-'));
    const store = SqliteStore.open(join(dataDir, 'pql.sqlite'));
    await store.commitTransitions({
      transitions: [
        {
          kind: 'qualified',
          accountId: 'acc-1',
          definitionId: 'calls',
          definitionVersion: 1,
          qualifiedAt: 1000,
          triggerEventId: undefined,
          explanation: { evaluatedAt: 1000, holds: true, clauses: [], missing: [] },
        },
      ],
      alerts: [{ transitionIndex: 0, channel: 'webhook', target: '', payload: { accountId: 'acc-1' } }],
      detectedAt: 1000,
    });
    await store.claimAlerts('w', 1000, 1, 1000);
    await store.completeAlert('calls:acc-1:1/webhook', 'w', {
      kind: 'dead',
      error: 'HTTP 400 (not retried)',
    });
    await store.close();

    const list = capture();
    expect(await main(['alerts', '--data-dir', dataDir, '--status', 'dead', '--json'], list)).toBe(0);
    expect(JSON.parse(list.stdout.join('\n')).alerts).toMatchObject([
      { id: 'calls:acc-1:1/webhook', status: 'dead', attempts: 1, lastError: 'HTTP 400 (not retried)' },
    ]);
    const show = capture();
    expect(await main(['alerts', 'show', 'calls:acc-1:1/webhook', '--data-dir', dataDir], show)).toBe(0);
    expect(JSON.parse(show.stdout.join('\n')).alert.payload).toEqual({ accountId: 'acc-1' });
    const retry = capture();
    expect(await main(['alerts', 'retry', 'calls:acc-1:1/webhook', '--data-dir', dataDir], retry)).toBe(0);
    expect(retry.stdout).toEqual(['queued calls:acc-1:1/webhook again']);
    const again = capture();
    expect(await main(['alerts', 'retry', 'calls:acc-1:1/webhook', '--data-dir', dataDir], again)).toBe(2);
    const bad = capture();
    expect(await main(['alerts', '--data-dir', dataDir, '--status', 'lost'], bad)).toBe(2);
    expect(bad.stderr.join('')).toContain(
      '--status: expected one of pending, delivered, dead, disabled, got "lost"',
    );
  });
});
