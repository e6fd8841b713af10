import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { quoteIdentifier } from './postgres-migrations.js';

/** The PostgreSQL that tests use: `PQL_TEST_POSTGRES_URL`, else the local server's `test` database. */
export const TEST_POSTGRES_URL =
  process.env.PQL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Thrown when a test would wipe data in a database whose name does not say it is for tests. */
export class NotATestDatabaseError extends Error {
  /** Creates the error for the connection string `url` naming database `database`. */
  constructor(readonly database: string) {
    super(
      `refusing to create and drop schemas in PostgreSQL database "${database}": its name does not contain ` +
        '"test" (set PQL_TEST_POSTGRES_URL to a test database)',
    );
    this.name = 'NotATestDatabaseError';
  }
}

/** The database name of a postgres:// URL. */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** Throws unless the URL's database name contains `test`: what tests wipe must be a test database. */
export function assertTestDatabase(url: string): void {
  const name = databaseName(url);
  if (!name.toLowerCase().includes('test')) throw new NotATestDatabaseError(name);
}

/**
 * Whether PostgreSQL answers at `url`: undefined if it does, else the reason it does not (a suite prints it
 * when it skips, or fails with it under PQL_REQUIRE_SERVICES=1).
 */
export async function postgresUnavailableReason(url = TEST_POSTGRES_URL): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} is not available: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Creates unique schema names for one test suite and drops them all at the end. */
export class TestSchemas {
  private readonly created: string[] = [];
  private readonly prefix = `pql_test_${process.pid}_${randomBytes(3).toString('hex')}`;

  /** Checks the URL names a test database before anything is created in it. */
  constructor(readonly url = TEST_POSTGRES_URL) {
    assertTestDatabase(url);
  }

  /** A new schema name, unique across suites and processes; dropped by `dropAll`. */
  next(): string {
    const name = `${this.prefix}_${this.created.length + 1}`;
    this.created.push(name);
    return name;
  }

  /** Drops every schema this object named (with CASCADE). */
  async dropAll(): Promise<void> {
    if (this.created.length === 0) return;
    assertTestDatabase(this.url);
    const client = new pg.Client({ connectionString: this.url });
    await client.connect();
    try {
      for (const name of this.created.splice(0)) {
        await client.query(`DROP SCHEMA IF EXISTS ${quoteIdentifier(name)} CASCADE`);
      }
    } finally {
      await client.end();
    }
  }
}
