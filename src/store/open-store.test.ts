import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServerConfig } from '../config/server-config.js';
import { describeStore, openStore, StoreSpecError } from './open-store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import {
  TEST_POSTGRES_URL,
  TestSchemas,
  postgresUnavailableReason,
} from './postgres/postgres-test-database.js';
import { SqliteStore } from './sqlite/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'pql-open-store-'));
const unavailable = await postgresUnavailableReason();
const schemas = new TestSchemas();

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  if (unavailable === undefined) await schemas.dropAll();
});

describe('openStore', () => {
  it('opens the SQLite file in the data directory by default and for "sqlite"', async () => {
    for (const store of [undefined, 'sqlite', '']) {
      const opened = await openStore({ dataDir: dir, store });
      expect(opened).toBeInstanceOf(SqliteStore);
      await opened.close();
    }
    expect(describeStore({ dataDir: dir })).toBe(join(dir, 'pql.sqlite'));
  });

  it('takes the store setting from PQL_STORE over pql.yaml store:, and defaults to SQLite', () => {
    const cwd = mkdtempSync(join(dir, 'cwd-'));
    const env = { PQL_ADMIN_TOKEN: 'admin', PQL_WRITE_KEYS: 'wk' };
    expect(loadServerConfig({ dataDir: dir }, env, cwd).config.store).toBeUndefined();
    writeFileSync(join(cwd, 'pql.yaml'), 'store: postgres://pql@db/pql\n');
    expect(loadServerConfig({ dataDir: dir }, env, cwd).config.store).toBe('postgres://pql@db/pql');
    const fromEnv = loadServerConfig({ dataDir: dir }, { ...env, PQL_STORE: 'sqlite' }, cwd).config;
    expect(fromEnv.store).toBe('sqlite');
  });

  it('rejects a store setting that is neither sqlite nor a PostgreSQL URL, hiding passwords', async () => {
    await expect(openStore({ dataDir: dir, store: 'mysql://u:secret@h/db' })).rejects.toThrow(StoreSpecError);
    await expect(openStore({ dataDir: dir, store: 'mysql://u:secret@h/db' })).rejects.toThrow(
      'store: expected "sqlite" or a postgres:// URL, got "mysql://u:***@h/db"',
    );
    expect(describeStore({ dataDir: dir, store: 'postgres://pql:hunter2@db:5432/pql' })).toBe(
      'postgres://pql:***@db:5432/pql',
    );
  });

  it.skipIf(unavailable !== undefined)(
    'opens PostgreSQL for a postgres:// URL, in the schema its ?schema= names',
    async () => {
      const schema = schemas.next();
      const url = new URL(TEST_POSTGRES_URL);
      url.searchParams.set('schema', schema);
      const store = await openStore({ dataDir: dir, store: url.toString() });
      try {
        expect(store).toBeInstanceOf(PostgresStore);
        await store.appendEvents([
          {
            messageId: 'm-1',
            type: 'track',
            timestamp: 1,
            receivedAt: 1,
            userId: 'u',
            anonymousId: undefined,
            accountId: 'a',
            body: '{}',
          },
        ]);
      } finally {
        await store.close();
      }
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT message_id FROM "${schema}".events`);
        expect(rows).toEqual([{ message_id: 'm-1' }]);
      } finally {
        await client.end();
      }
    },
  );
});
