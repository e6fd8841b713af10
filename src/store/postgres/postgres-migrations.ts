import type pg from 'pg';

/**
 * One migration per schema version, applied in order and recorded in `pql_migrations`. Append only: a
 * released migration is never edited, because databases in the field already ran it. Every statement is
 * written to be safe to run again (IF NOT EXISTS), so a migration interrupted between its DDL and its
 * record cannot wedge the next start.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE IF NOT EXISTS events (
    seq BIGSERIAL PRIMARY KEY,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    ts BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    account_id TEXT,
    body TEXT NOT NULL
  );
  CREATE UNIQUE INDEX IF NOT EXISTS events_message_id ON events (message_id);
  CREATE INDEX IF NOT EXISTS events_by_time ON events (ts, seq);

  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

  CREATE TABLE IF NOT EXISTS pqls (
    id TEXT PRIMARY KEY,
    -- Insertion order, the tie-break when two PQLs share qualified_at (SQLite uses its rowid).
    pql_seq BIGSERIAL NOT NULL,
    definition_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    definition_version INTEGER NOT NULL,
    qualified_at BIGINT NOT NULL,
    detected_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'expired')),
    expired_at BIGINT,
    trigger_event_id TEXT,
    explanation TEXT NOT NULL,
    corrections TEXT NOT NULL DEFAULT '[]',
    UNIQUE (definition_id, account_id, ordinal)
  );
  CREATE INDEX IF NOT EXISTS pqls_by_qualified_at ON pqls (qualified_at);

  CREATE TABLE IF NOT EXISTS qualifications (
    account_id TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    definition_version INTEGER NOT NULL,
    qualified_at BIGINT NOT NULL,
    expired_at BIGINT,
    PRIMARY KEY (account_id, definition_id)
  );

  CREATE TABLE IF NOT EXISTS accounts (
    account_id TEXT PRIMARY KEY,
    first_seen_at BIGINT,
    last_seen_at BIGINT,
    event_count BIGINT NOT NULL DEFAULT 0
  );

  -- Store-wide write counter: among sources with the same effective time, the later write wins. A
  -- sequence (not a counter in memory) so that several processes writing one database agree.
  CREATE SEQUENCE IF NOT EXISTS trait_writes;
  CREATE TABLE IF NOT EXISTS account_traits (
    account_id TEXT NOT NULL,
    trait TEXT NOT NULL,
    source TEXT NOT NULL,
    value TEXT NOT NULL,
    effective_at BIGINT NOT NULL,
    written BIGINT NOT NULL,
    PRIMARY KEY (account_id, trait, source)
  );

  CREATE TABLE IF NOT EXISTS definition_versions (
    definition_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (definition_id, version)
  );
  `,
  `
  CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    alert_seq BIGSERIAL NOT NULL,
    pql_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'disabled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    delivered_at BIGINT,
    last_error TEXT,
    claimed_by TEXT,
    claim_until BIGINT,
    possible_duplicate BOOLEAN NOT NULL DEFAULT false
  );
  CREATE INDEX IF NOT EXISTS alerts_due ON alerts (status, next_attempt_at);
  `,
  `
  CREATE TABLE IF NOT EXISTS trait_changes (
    seq BIGSERIAL PRIMARY KEY,
    change_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    source TEXT NOT NULL,
    effective_at BIGINT NOT NULL,
    traits TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS trait_changes_by_time ON trait_changes (effective_at, seq);
  `,
  `
  CREATE TABLE IF NOT EXISTS dispositions (
    seq BIGSERIAL PRIMARY KEY,
    pql_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    disposition TEXT NOT NULL CHECK (disposition IN ('contacted', 'won', 'disqualified')),
    reason TEXT NOT NULL,
    recorded_by TEXT,
    recorded_at BIGINT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS dispositions_by_pql ON dispositions (pql_id, seq);
  `,
];

/** Thrown when a PostgreSQL schema was migrated by a newer build than this one. */
export class PostgresSchemaError extends Error {
  /** Creates the error for `schema` whose recorded version is `found` while this build knows up to `known`. */
  constructor(
    readonly schema: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `PostgreSQL schema "${schema}": version ${found} is newer than this build supports (${known}); ` +
        'upgrade pql or point it at another schema',
    );
    this.name = 'PostgresSchemaError';
  }
}

/** Arbitrary constant key of the advisory lock that serializes migrations across processes. */
const MIGRATION_LOCK = 0x70716c6d; // 'pqlm'

/**
 * Brings `schema` (created if missing) up to the latest version. Each migration runs in its own transaction
 * that also records it; a transaction-scoped advisory lock makes processes starting together take turns,
 * and each re-reads the recorded version after taking the lock, so every migration runs once.
 */
export async function migratePostgres(client: pg.ClientBase, schema: string): Promise<number> {
  const quoted = quoteIdentifier(schema);
  for (;;) {
    await client.query('BEGIN');
    try {
      // Even CREATE ... IF NOT EXISTS races with itself in another session, so it goes under the lock too.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, schema]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${quoted}.pql_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
      );
      const { rows } = await client.query<{ version: number | null }>(
        `SELECT max(version) AS version FROM ${quoted}.pql_migrations`,
      );
      const current = rows[0]?.version ?? 0;
      if (current > POSTGRES_MIGRATIONS.length) {
        throw new PostgresSchemaError(schema, current, POSTGRES_MIGRATIONS.length);
      }
      if (current === POSTGRES_MIGRATIONS.length) {
        await client.query('COMMIT');
        return current;
      }
      await client.query(`SET LOCAL search_path TO ${quoted}`);
      await client.query(POSTGRES_MIGRATIONS[current]!);
      await client.query(`INSERT INTO ${quoted}.pql_migrations (version) VALUES ($1)`, [current + 1]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  }
}

/** Quotes a PostgreSQL identifier (schema name) for use in SQL text. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
