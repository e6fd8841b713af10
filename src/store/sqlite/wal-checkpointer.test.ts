import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { NewEvent } from '../store.js';
import { SqliteStore } from './sqlite-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory, removed after the test. */
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pql-wal-'));
  dirs.push(dir);
  return dir;
}

function events(from: number, n: number): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    messageId: `m${from + i}`,
    type: 'track' as const,
    timestamp: 1_700_000_000_000 + from + i,
    receivedAt: 1_700_000_000_000 + from + i,
    userId: 'u1',
    anonymousId: undefined,
    accountId: 'acme',
    body: JSON.stringify({ type: 'track', event: 'Step', userId: 'u1', messageId: `m${from + i}` }),
  }));
}

/** Events in a copy of the database file alone, without its write-ahead log: what checkpoints copied. */
function eventsInMainFile(path: string, dir: string): number {
  const copy = join(dir, `copy-${Date.now()}-${Math.random()}.sqlite`);
  copyFileSync(path, copy);
  const db = new Database(copy, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('WAL checkpoints off the writer thread', () => {
  it('copies committed events into the database file without a checkpoint on the writing connection', async () => {
    const dir = tempDir();
    const path = join(dir, 'pql.sqlite');
    const store = SqliteStore.open(path);
    try {
      // Far below SQLite's own 1,000-page threshold: without the thread these stay in the log.
      await store.appendEvents(events(0, 300));
      await expect.poll(() => eventsInMainFile(path, dir), { timeout: 5000, interval: 50 }).toBe(300);
      await store.appendEvents(events(300, 200));
      await expect.poll(() => eventsInMainFile(path, dir), { timeout: 5000, interval: 50 }).toBe(500);
    } finally {
      await store.close();
    }
  });

  it('keeps the log from growing without bound under steady writes', async () => {
    const dir = tempDir();
    const path = join(dir, 'pql.sqlite');
    const store = SqliteStore.open(path);
    try {
      for (let round = 0; round < 80; round++) {
        await store.appendEvents(events(round * 1000, 1000));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // 80,000 events are about 42 MB of log pages (the size the log reaches without the thread); one that is
      // checkpointed and restarted stays several times smaller, even with the thread slowed by other work.
      expect(statSync(`${path}-wal`).size).toBeLessThan(16 * 2 ** 20);
      expect(await store.countEvents()).toBe(80_000);
    } finally {
      await store.close();
    }
  });

  it('lets close() finish in a process with nothing else to do (the thread is awaited, not left behind)', () => {
    const dir = tempDir();
    const script = `
      const { SqliteStore } = await import(${JSON.stringify(new URL('./sqlite-store.ts', import.meta.url).href)});
      const store = SqliteStore.open(${JSON.stringify(join(dir, 'pql.sqlite'))});
      await store.close();
      console.log('closed');`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('closed');
    expect(child.status).toBe(0);
  });
});
