import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { NewEvent, Store } from '../store.js';
import { describeStoreContract } from '../store.contract.js';
import { POSTGRES_MIGRATIONS, PostgresSchemaError, quoteIdentifier } from './postgres-migrations.js';
import { PostgresStore, PostgresStoreConfigError } from './postgres-store.js';
import {
  NotATestDatabaseError,
  TEST_POSTGRES_URL,
  TestSchemas,
  assertTestDatabase,
  postgresUnavailableReason,
} from './postgres-test-database.js';

const unavailable = await postgresUnavailableReason();
if (unavailable !== undefined && process.env.PQL_REQUIRE_SERVICES !== '1') {
  console.warn(`skipping the PostgreSQL store suites: ${unavailable}`);
}
const requireServices = process.env.PQL_REQUIRE_SERVICES === '1';

describe('PostgreSQL availability', () => {
  it.runIf(requireServices)('PostgreSQL is reachable (PQL_REQUIRE_SERVICES=1)', () => {
    expect(unavailable).toBeUndefined();
  });

  it('refuses to touch a database whose name does not contain "test"', () => {
    expect(() => assertTestDatabase('postgres://postgres@127.0.0.1:5432/pql_prod')).toThrow(
      NotATestDatabaseError,
    );
    expect(() => new TestSchemas('postgres://postgres@127.0.0.1:5432/postgres')).toThrow(
      'refusing to create and drop schemas in PostgreSQL database "postgres"',
    );
    expect(() => assertTestDatabase('postgres://postgres@127.0.0.1:5432/pql_test')).not.toThrow();
  });
});

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

if (unavailable === undefined) {
  const schemas = new TestSchemas();
  const schemaOf = new WeakMap<Store, string>();

  describeStoreContract(
    'postgres',
    async () => {
      const schema = schemas.next();
      const store = await PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema });
      schemaOf.set(store, schema);
      return store;
    },
    () => schemas.dropAll(),
    {
      reopen: async (store) => {
        const schema = schemaOf.get(store)!;
        await store.close();
        const next = await PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema });
        schemaOf.set(next, schema);
        return next;
      },
    },
  );

  describe('PostgresStore', () => {
    const own = new TestSchemas();
    const stores: PostgresStore[] = [];
    async function open(schema = own.next()): Promise<PostgresStore> {
      const store = await PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema });
      stores.push(store);
      return store;
    }
    afterAll(async () => {
      for (const store of stores) await store.close();
      await own.dropAll();
    });

    async function query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      try {
        return (await client.query<T>(sql, params)).rows;
      } finally {
        await client.end();
      }
    }

    it('records each migration once, also when several processes open the same schema at once', async () => {
      const schema = own.next();
      await Promise.all(Array.from({ length: 4 }, () => open(schema)));
      const rows = await query<{ version: number }>(
        `SELECT version FROM ${quoteIdentifier(schema)}.pql_migrations ORDER BY version`,
      );
      expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((_, i) => i + 1));
    });

    it('refuses a schema migrated by a newer build, naming the schema', async () => {
      const schema = own.next();
      await open(schema);
      await query(`INSERT INTO ${quoteIdentifier(schema)}.pql_migrations (version) VALUES (99)`);
      const reopening = PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema });
      await expect(reopening).rejects.toThrow(PostgresSchemaError);
      await expect(PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema })).rejects.toThrow(
        `PostgreSQL schema "${schema}": version 99 is newer than this build supports (${POSTGRES_MIGRATIONS.length})`,
      );
    });

    it('rejects a connection string that is not a postgres:// URL and an unsafe schema name', async () => {
      await expect(PostgresStore.open({ connectionString: '/var/lib/pql.db' })).rejects.toThrow(
        PostgresStoreConfigError,
      );
      await expect(
        PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema: 'x"; DROP SCHEMA public' }),
      ).rejects.toThrow('PostgreSQL store: schema: expected lower-case letters');
    });

    it('stores each messageId once when several connections append overlapping batches at once', async () => {
      const schema = own.next();
      const writers = await Promise.all(Array.from({ length: 3 }, () => open(schema)));
      // Three writers each append the same 2,000 ids in 20 batches of 100, in different orders.
      const ids = Array.from({ length: 2000 }, (_, i) => `race-${i}`);
      const results = await Promise.all(
        writers.map(async (store, w) => {
          const order = w === 1 ? [...ids].reverse() : ids;
          let inserted = 0;
          for (let b = 0; b < 20; b++) {
            const batch = order.slice(b * 100, b * 100 + 100).map((id, i) => event(id, T0 + i));
            inserted += (await store.appendEvents(batch)).inserted.filter((x) => x).length;
          }
          return inserted;
        }),
      );
      expect(results.reduce((a, b) => a + b, 0)).toBe(2000);
      expect(await writers[0]!.countEvents()).toBe(2000);
    });

    it('hands out seqs that commit in increasing order, so a reader following afterSeq misses nothing', async () => {
      const schema = own.next();
      const [a, b, reader] = await Promise.all([open(schema), open(schema), open(schema)]);
      const seen = new Set<string>();
      let afterSeq = 0;
      let writing = true;
      const follow = (async () => {
        while (writing || seen.size < 4000) {
          for await (const batch of reader.readEvents({ order: 'arrival', afterSeq, batchSize: 500 })) {
            for (const e of batch) seen.add(e.messageId);
            afterSeq = batch[batch.length - 1]!.seq;
          }
          if (!writing && seen.size >= 4000) break;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      })();
      await Promise.all(
        [a, b].map(async (store, w) => {
          for (let i = 0; i < 20; i++) {
            await store.appendEvents(Array.from({ length: 100 }, (_, j) => event(`w${w}-${i}-${j}`, T0 + j)));
          }
        }),
      );
      writing = false;
      await follow;
      expect(seen.size).toBe(4000);
    });

    it('lets two workers claim disjoint alerts at the same moment (FOR UPDATE SKIP LOCKED)', async () => {
      const schema = own.next();
      const [w1, w2] = await Promise.all([open(schema), open(schema)]);
      const payload = { n: 1 };
      await w1.commitTransitions({
        transitions: Array.from({ length: 50 }, (_, i) => ({
          kind: 'qualified' as const,
          accountId: `acc-${i}`,
          definitionId: 'd',
          definitionVersion: 1,
          qualifiedAt: T0,
          triggerEventId: undefined,
          explanation: { evaluatedAt: T0, holds: true, clauses: [], missing: [] },
        })),
        alerts: Array.from({ length: 50 }, (_, i) => ({
          transitionIndex: i,
          channel: 'webhook',
          target: '',
          payload,
        })),
        detectedAt: T0,
      });
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? w1 : w2).claimAlerts(`w${i}`, T0, 10, 30_000)),
      );
      const ids = claims.flat().map((a) => a.id);
      expect(ids.length).toBe(50);
      expect(new Set(ids).size).toBe(50);
    });
  });
} else if (requireServices) {
  describe('PostgresStore', () => {
    it('needs PostgreSQL', () => {
      throw new Error(unavailable);
    });
  });
}
