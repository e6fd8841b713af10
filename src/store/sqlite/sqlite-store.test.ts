import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { NewEvent, Store } from '../store.js';
import { describeStoreContract } from '../store.contract.js';
import { SqliteSchemaError, SqliteStore, hashMessageId } from './sqlite-store.js';

const tempRoot = mkdtempSync(join(tmpdir(), 'pql-sqlite-store-'));
let fileCounter = 0;
function tempPath(): string {
  return join(tempRoot, `store-${++fileCounter}`, 'pql.db');
}

afterAll(() => {
  rmSync(tempRoot, { recursive: true, force: true });
});

describeStoreContract('sqlite :memory:', async () => SqliteStore.open(':memory:'));

const pathOf = new WeakMap<Store, string>();
describeStoreContract(
  'sqlite file',
  async () => {
    const path = tempPath();
    const store = SqliteStore.open(path);
    pathOf.set(store, path);
    return store;
  },
  undefined,
  {
    reopen: async (store) => {
      const path = pathOf.get(store)!;
      await store.close();
      const next = SqliteStore.open(path);
      pathOf.set(next, path);
      return next;
    },
  },
);

const T0 = Date.UTC(2025, 0, 1);

function event(messageId: string, timestamp: number): NewEvent {
  return {
    messageId,
    type: 'track',
    timestamp,
    receivedAt: timestamp,
    userId: 'user-1',
    anonymousId: undefined,
    accountId: 'acct-1',
    body: `{"messageId":"${messageId}"}`,
  };
}

describe('SqliteStore (file)', () => {
  const stores: SqliteStore[] = [];
  function open(path: string, options?: Parameters<typeof SqliteStore.open>[1]): SqliteStore {
    const store = SqliteStore.open(path, options);
    stores.push(store);
    return store;
  }
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
  });

  it('creates missing parent directories, uses WAL and records schema version 1', async () => {
    const path = join(tempRoot, 'deep', 'er', 'pql.db');
    const store = open(path);
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(4);
    } finally {
      db.close();
    }
  });

  it('keeps events, dedupe state and the checkpoint across a reopen, with synchronous FULL too', async () => {
    const path = tempPath();
    const first = open(path, { synchronous: 'FULL' });
    await first.appendEvents([event('m-1', T0), event('m-2', T0 + 1)]);
    await first.commitTransitions({ transitions: [], detectedAt: T0, checkpointSeq: 2 });
    await first.close();
    const store = open(path);
    expect(await store.loadCheckpoint()).toBe(2);
    expect((await store.appendEvents([event('m-1', T0), event('m-3', T0 + 2)])).inserted).toEqual([
      false,
      true,
    ]);
    expect(await store.countEvents()).toBe(3);
  });

  it('copies the log into the main file every walAutocheckpointPages pages, bounding the -wal file', async () => {
    // The -wal file is reused, not shrunk, after a checkpoint: its size is the most the log ever held.
    const walBytes = async (pages: number | undefined): Promise<number> => {
      const path = tempPath();
      const store = open(path, pages === undefined ? {} : { walAutocheckpointPages: pages });
      const pad = 'x'.repeat(2_000);
      for (let batch = 0; batch < 40; batch++) {
        const events = Array.from({ length: 50 }, (_, i) => ({
          ...event(`m-${batch}-${i}`, T0 + batch * 50 + i),
          body: `{"pad":"${pad}"}`,
        }));
        await store.appendEvents(events);
      }
      return statSync(`${path}-wal`).size;
    };
    // 40 batches of ~100 KB: about 1,000 pages in all.
    expect(await walBytes(50)).toBeLessThan(100 * 4096 + 200 * 1024);
    expect(await walBytes(undefined)).toBeGreaterThan(600 * 4096);
  });

  it('refuses a walAutocheckpointPages that is not a whole number >= 0, naming the option', () => {
    expect(() => SqliteStore.open(tempPath(), { walAutocheckpointPages: 1.5 })).toThrow(
      'walAutocheckpointPages: expected a whole number >= 0, got 1.5',
    );
  });

  it('refuses a database written by a newer schema version, naming the file', async () => {
    const path = tempPath();
    await open(path).close();
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => SqliteStore.open(path)).toThrow(SqliteSchemaError);
    expect(() => SqliteStore.open(path)).toThrow(
      `${path}: schema version 99 is newer than this build supports (4)`,
    );
  });

  it('still rejects duplicates after the dedupe index has drained its levels (210,000 events)', async () => {
    const path = tempPath();
    const store = open(path);
    for (let batch = 0; batch < 210; batch++) {
      const result = await store.appendEvents(
        Array.from({ length: 1000 }, (_, i) => event(`lvl-${batch * 1000 + i}`, T0 + batch * 1000 + i)),
      );
      expect(result.inserted.every((x) => x)).toBe(true);
    }
    // Levels hold 20k and 160k ids before draining on: after 210k, ids sit in levels 2, 1 and 0.
    // One id from every 1,000 probes all three.
    const replay = Array.from({ length: 210 }, (_, batch) => event(`lvl-${batch * 1000 + 7}`, T0));
    expect((await store.appendEvents(replay)).inserted.filter((x) => x)).toEqual([]);
    expect(await store.countEvents()).toBe(210_000);
    const db = new Database(path, { readonly: true });
    const sizes = [0, 1, 2, 3].map(
      (level) => db.prepare(`SELECT count(*) FROM event_ids_${level}`).pluck().get() as number,
    );
    db.close();
    // Every id is in exactly one level, and no level holds much more than its capacity.
    expect(sizes.reduce((a, b) => a + b)).toBe(210_000);
    expect(sizes[0]).toBeLessThanOrEqual(22_000);
    expect(sizes[1]).toBeLessThanOrEqual(165_000);
    expect(sizes[2]).toBeGreaterThan(0);
  });

  it('stores a messageId whose hash collides with a stored different messageId', async () => {
    // A real 52-bit collision is infeasible to find here, so forge one: a stored row carrying the hash of 'm-2'.
    const path = tempPath();
    await open(path).close();
    const db = new Database(path);
    const { lastInsertRowid } = db
      .prepare(
        "INSERT INTO events (message_id, id_hash, type, ts, received_at, body) VALUES ('forged', ?, 'track', ?, ?, '{}')",
      )
      .run(hashMessageId('m-2'), T0, T0);
    db.prepare('INSERT INTO event_ids_0 (id_hash, seq) VALUES (?, ?)').run(
      hashMessageId('m-2'),
      lastInsertRowid,
    );
    db.close();
    const store = open(path);
    expect((await store.appendEvents([event('m-2', T0), event('m-2', T0)])).inserted).toEqual([true, false]);
    expect(await store.countEvents()).toBe(2);
  });

  it('keeps every acknowledged append after the writing process is killed with SIGKILL', async () => {
    const path = tempPath();
    const fixture = join(dirname(fileURLToPath(import.meta.url)), 'test-fixtures', 'append-until-killed.ts');
    // detached: the child leads its own process group, so one kill reaches npx, tsx and node alike.
    const child = spawn('npx', ['tsx', fixture, path], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    const acknowledged = await new Promise<number>((resolve, reject) => {
      let buffered = '';
      let highest = -1;
      child.stdout.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const match = /^committed (\d+)$/.exec(line);
          if (match !== null) highest = Number(match[1]);
        }
        // Kill mid-stream: the child is appending the next batch while we read this line.
        if (highest >= 30) {
          process.kill(-child.pid!, 'SIGKILL');
          resolve(highest);
        }
      });
      child.on('exit', () => reject(new Error(`fixture exited before it was killed: ${stderr}`)));
    });
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(`${path}-wal`)).toBe(true);

    const store = open(path);
    const stored = new Set<string>();
    for await (const batch of store.readEvents({ order: 'arrival' }))
      for (const e of batch) stored.add(e.messageId);
    for (let batch = 0; batch <= acknowledged; batch++) {
      for (let i = 0; i < 100; i++) expect(stored.has(`kill-${batch}-${i}`)).toBe(true);
    }
    // Each batch is one transaction: whatever was in flight is there whole or not at all.
    expect(stored.size % 100).toBe(0);
    expect(stored.size).toBeGreaterThanOrEqual((acknowledged + 1) * 100);
  });
});
