import pg from 'pg';
import { migratePostgres, quoteIdentifier } from './postgres-migrations.js';
import { toAccountRecord } from '../account-record.js';
import type { EventType, TraitChange, TraitSource } from '../../core/events/event.js';
import type {
  CorrectedTransition,
  ExpiredTransition,
  Explanation,
  QualificationRecord,
  QualifiedTransition,
} from '../../core/engine/transition.js';
import type {
  AccountRecord,
  AccountTraitsUpdate,
  AlertOutcome,
  AlertRecord,
  AlertStatus,
  DefinitionVersionRecord,
  DispositionKind,
  DispositionRecord,
  NewDisposition,
  NewEvent,
  PqlFilter,
  PqlRecord,
  ReadEventsOptions,
  Store,
  StoredEvent,
  TransitionBatch,
} from '../store.js';

/** Options for opening a PostgreSQL store. */
export interface PostgresStoreOptions {
  /** A `postgres://` connection string (user, host, port, database; query options as pg accepts them). */
  readonly connectionString: string;
  /** Schema holding PQL's tables, created if missing (default `pql`). Tests use one schema per suite. */
  readonly schema?: string;
  /** Pool size (default 4). */
  readonly maxConnections?: number;
}

/** Thrown when the store's options are unusable, naming the field. */
export class PostgresStoreConfigError extends Error {
  /** Creates the error for option `field` with a description of what is wrong. */
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`PostgreSQL store: ${field}: ${message}`);
    this.name = 'PostgresStoreConfigError';
  }
}

const DEFAULT_SCHEMA = 'pql';
const DEFAULT_BATCH_SIZE = 10_000;
const CHECKPOINT_KEY = 'checkpoint_seq';
/** Advisory lock key (with the schema's hash) that serializes appends; see `appendEvents`. */
const APPEND_LOCK = 0x70716c61; // 'pqla'
const INT8_OID = 20;

/**
 * Epoch milliseconds, sequence numbers and counts are BIGINT; they stay far below 2^53, so they are read as
 * JS numbers (pg's default is a string). Scoped to this store's pool, not set globally on `pg.types`.
 */
const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

interface EventRow {
  seq: number;
  message_id: string;
  type: string;
  ts: number;
  received_at: number;
  user_id: string | null;
  anonymous_id: string | null;
  account_id: string | null;
  body: string;
}

interface PqlRow {
  id: string;
  definition_id: string;
  account_id: string;
  ordinal: number;
  definition_version: number;
  qualified_at: number;
  detected_at: number;
  status: 'open' | 'expired';
  expired_at: number | null;
  trigger_event_id: string | null;
  explanation: string;
  corrections: string;
}

interface AccountRow {
  account_id: string;
  first_seen_at: number | null;
  last_seen_at: number | null;
  event_count: number;
}

interface TraitRow {
  account_id: string;
  trait: string;
  source: TraitSource;
  value: string;
  effective_at: number;
  written: number;
}

interface AlertRow {
  id: string;
  pql_id: string;
  channel: string;
  target: string;
  payload: string;
  status: AlertStatus;
  attempts: number;
  next_attempt_at: number;
  created_at: number;
  delivered_at: number | null;
  last_error: string | null;
  possible_duplicate: boolean;
}

const EVENT_COLUMNS = 'seq, message_id, type, ts, received_at, user_id, anonymous_id, account_id, body';

/**
 * The shared store for scale-out: PostgreSQL through a `pg` pool, in its own schema, with versioned
 * migrations. Every write method is one transaction (one per batch), so it passes the same contract as the
 * SQLite store; the alert outbox claim uses `FOR UPDATE SKIP LOCKED`, so several workers can drain it.
 */
export class PostgresStore implements Store {
  private constructor(
    private readonly pool: pg.Pool,
    /** The schema's name, as given. */
    readonly schema: string,
  ) {}

  /** Connects, creates the schema if needed, runs pending migrations, and returns the store. */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    if (!/^postgres(ql)?:\/\//.test(options.connectionString)) {
      throw new PostgresStoreConfigError(
        'connectionString',
        `expected a postgres:// URL, got ${JSON.stringify(options.connectionString)}`,
      );
    }
    const schema = options.schema ?? DEFAULT_SCHEMA;
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw new PostgresStoreConfigError(
        'schema',
        `expected lower-case letters, digits and underscores (at most 63), got ${JSON.stringify(schema)}`,
      );
    }
    const pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.maxConnections ?? 4,
      types: typeParsers,
      // Every connection of the pool resolves unqualified table names in the store's schema.
      options: `-c search_path=${quoteIdentifier(schema)}`,
    });
    // An idle client that loses its connection (server restart) emits 'error' on the pool; without a
    // listener that would crash the process. The next query reconnects.
    pool.on('error', () => {});
    try {
      const client = await pool.connect();
      try {
        await migratePostgres(client, schema);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PostgresStore(pool, schema);
  }

  /** Runs `work` in one transaction on one pooled connection; rolls back if it throws. */
  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  async appendEvents(events: readonly NewEvent[]): Promise<{ readonly inserted: readonly boolean[] }> {
    if (events.length === 0) return { inserted: [] };
    // Repeats inside the batch: the first copy is the one offered to the database.
    const firstIndex = new Map<string, number>();
    const offered: NewEvent[] = [];
    events.forEach((event, i) => {
      if (firstIndex.has(event.messageId)) return;
      firstIndex.set(event.messageId, i);
      offered.push(event);
    });
    const stored = await this.transaction(async (client) => {
      // Appends take turns: a seq is handed out inside the lock and committed before the next append
      // starts, so seqs become visible in increasing order and a reader resuming `afterSeq` (the
      // checkpoint) can never skip a seq that commits later. The lock is scoped to this schema.
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [APPEND_LOCK, this.schema]);
      const { rows } = await client.query<{ message_id: string }>(
        'INSERT INTO events (message_id, type, ts, received_at, user_id, anonymous_id, account_id, body) ' +
          'SELECT m, t, ts, r, u, a, acc, b FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], ' +
          '$5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS x(m, t, ts, r, u, a, acc, b, n) ' +
          'ORDER BY n ON CONFLICT (message_id) DO NOTHING RETURNING message_id',
        [
          offered.map((e) => e.messageId),
          offered.map((e) => e.type),
          offered.map((e) => e.timestamp),
          offered.map((e) => e.receivedAt),
          offered.map((e) => e.userId ?? null),
          offered.map((e) => e.anonymousId ?? null),
          offered.map((e) => e.accountId ?? null),
          offered.map((e) => e.body),
        ],
      );
      return new Set(rows.map((row) => row.message_id));
    });
    return { inserted: events.map((e, i) => firstIndex.get(e.messageId) === i && stored.has(e.messageId)) };
  }

  async *readEvents(options: ReadEventsOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`readEvents: batchSize: expected a positive integer, got ${batchSize}`);
    }
    const afterSeq = options.afterSeq ?? 0;
    // Keyset pagination, as in the SQLite store: each page is one complete query, no cursor stays open.
    if ((options.order ?? 'time') === 'arrival') {
      let lastSeq = afterSeq;
      for (;;) {
        const { rows } = await this.pool.query<EventRow>(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2`,
          [lastSeq, batchSize],
        );
        if (rows.length === 0) return;
        lastSeq = rows[rows.length - 1]!.seq;
        yield rows.map(toStoredEvent);
        if (rows.length < batchSize) return;
      }
    }
    let lastTs = Number.MIN_SAFE_INTEGER;
    let lastSeq = 0;
    for (;;) {
      const { rows } = await this.pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE (ts, seq) > ($1, $2) AND seq > $3 ORDER BY ts, seq LIMIT $4`,
        [lastTs, lastSeq, afterSeq, batchSize],
      );
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      lastTs = last.ts;
      lastSeq = last.seq;
      yield rows.map(toStoredEvent);
      if (rows.length < batchSize) return;
    }
  }

  async countEvents(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>('SELECT count(*) AS n FROM events');
    return rows[0]!.n;
  }

  async commitTransitions(batch: TransitionBatch): Promise<void> {
    // Serialize everything that can fail before the transaction opens: a bad batch then costs no round trip.
    const explanations = batch.transitions.map((t) =>
      t.kind === 'expired' ? undefined : JSON.stringify(t.explanation),
    );
    const payloads = (batch.alerts ?? []).map((alert) => JSON.stringify(alert.payload));
    await this.transaction(async (client) => {
      const pqlIds: (string | undefined)[] = [];
      for (const [i, transition] of batch.transitions.entries()) {
        switch (transition.kind) {
          case 'qualified':
            pqlIds.push(await applyQualified(client, transition, explanations[i]!, batch.detectedAt));
            continue;
          case 'corrected':
            await applyCorrected(client, transition, explanations[i]!);
            break;
          case 'expired':
            await applyExpired(client, transition);
            break;
        }
        pqlIds.push(undefined);
      }
      const alerts = (batch.alerts ?? [])
        .map((alert, i) => ({ alert, payload: payloads[i]!, pqlId: pqlIds[alert.transitionIndex] }))
        // An alert whose transition created no PQL (a replayed one) is not enqueued.
        .filter((a) => a.pqlId !== undefined);
      if (alerts.length > 0) {
        await client.query(
          'INSERT INTO alerts (id, pql_id, channel, target, payload, status, next_attempt_at, created_at) ' +
            "SELECT i, p, c, t, b, 'pending', $6, $6 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], " +
            '$5::text[]) WITH ORDINALITY AS x(i, p, c, t, b, n) ORDER BY n ON CONFLICT (id) DO NOTHING',
          [
            alerts.map((a) => `${a.pqlId}/${a.alert.channel}`),
            alerts.map((a) => a.pqlId),
            alerts.map((a) => a.alert.channel),
            alerts.map((a) => a.alert.target),
            alerts.map((a) => a.payload),
            batch.detectedAt,
          ],
        );
      }
      if (batch.checkpointSeq !== undefined) {
        await client.query(
          'INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
          [CHECKPOINT_KEY, String(batch.checkpointSeq)],
        );
      }
    });
  }

  async loadCheckpoint(): Promise<number> {
    const { rows } = await this.pool.query<{ value: string }>('SELECT value FROM meta WHERE key = $1', [
      CHECKPOINT_KEY,
    ]);
    return rows.length === 0 ? 0 : Number(rows[0]!.value);
  }

  async loadQualifications(): Promise<readonly QualificationRecord[]> {
    const { rows } = await this.pool.query<{
      account_id: string;
      definition_id: string;
      definition_version: number;
      qualified_at: number;
      expired_at: number | null;
    }>('SELECT * FROM qualifications ORDER BY account_id, definition_id');
    return rows.map((row) => ({
      accountId: row.account_id,
      definitionId: row.definition_id,
      definitionVersion: row.definition_version,
      qualifiedAt: row.qualified_at,
      expiredAt: row.expired_at ?? undefined,
    }));
  }

  async listPqls(filter: PqlFilter = {}): Promise<readonly PqlRecord[]> {
    const where: string[] = [];
    const params: (string | number | null)[] = [];
    const add = (clause: string, value: string | number) => {
      params.push(value);
      where.push(clause.replace('?', `$${params.length}`));
    };
    if (filter.definitionId !== undefined) add('definition_id = ?', filter.definitionId);
    if (filter.accountId !== undefined) add('account_id = ?', filter.accountId);
    if (filter.status !== undefined) add('status = ?', filter.status);
    if (filter.since !== undefined) add('qualified_at >= ?', filter.since);
    params.push(filter.limit ?? null); // LIMIT NULL is no limit
    const { rows } = await this.pool.query<PqlRow>(
      `SELECT * FROM pqls ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ` +
        `ORDER BY qualified_at DESC, pql_seq DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toPqlRecord);
  }

  async getPql(id: string): Promise<PqlRecord | undefined> {
    const { rows } = await this.pool.query<PqlRow>('SELECT * FROM pqls WHERE id = $1', [id]);
    return rows.length === 0 ? undefined : toPqlRecord(rows[0]!);
  }

  async appendTraitChanges(
    changes: readonly TraitChange[],
  ): Promise<{ readonly inserted: readonly boolean[] }> {
    if (changes.length === 0) return { inserted: [] };
    const firstIndex = new Map<string, number>();
    const offered: TraitChange[] = [];
    changes.forEach((change, i) => {
      if (firstIndex.has(change.changeId)) return;
      firstIndex.set(change.changeId, i);
      offered.push(change);
    });
    const traits = offered.map((c) => JSON.stringify(c.traits));
    const { rows } = await this.pool.query<{ change_id: string }>(
      'INSERT INTO trait_changes (change_id, account_id, source, effective_at, traits) ' +
        'SELECT c, a, s, e, t FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) ' +
        'WITH ORDINALITY AS x(c, a, s, e, t, n) ORDER BY n ON CONFLICT (change_id) DO NOTHING RETURNING change_id',
      [
        offered.map((c) => c.changeId),
        offered.map((c) => c.accountId),
        offered.map((c) => c.source),
        offered.map((c) => c.effectiveAt),
        traits,
      ],
    );
    const stored = new Set(rows.map((row) => row.change_id));
    return { inserted: changes.map((c, i) => firstIndex.get(c.changeId) === i && stored.has(c.changeId)) };
  }

  async readTraitChanges(): Promise<readonly TraitChange[]> {
    const { rows } = await this.pool.query<{
      change_id: string;
      account_id: string;
      source: TraitSource;
      effective_at: number;
      traits: string;
    }>(
      'SELECT change_id, account_id, source, effective_at, traits FROM trait_changes ORDER BY effective_at, seq',
    );
    return rows.map((r) => ({
      kind: 'traits',
      changeId: r.change_id,
      accountId: r.account_id,
      source: r.source,
      effectiveAt: r.effective_at,
      traits: JSON.parse(r.traits) as Record<string, unknown>,
    }));
  }

  async updateAccountTraits(updates: readonly AccountTraitsUpdate[]): Promise<void> {
    // Fold the batch in call order first (a later effectiveAt, or an equal one, replaces), so each
    // (account, trait, source) is written once: one INSERT cannot update the same row twice.
    const latest = new Map<
      string,
      { accountId: string; trait: string; source: string; value: string; effectiveAt: number; order: number }
    >();
    const accounts = new Set<string>();
    let order = 0;
    for (const update of updates) {
      accounts.add(update.accountId);
      for (const [trait, value] of Object.entries(update.traits)) {
        // JSON has no undefined: a trait set to undefined carries no value to keep.
        if (value === undefined) continue;
        const key = JSON.stringify([update.accountId, trait, update.source]);
        const current = latest.get(key);
        order++;
        if (current !== undefined && update.effectiveAt < current.effectiveAt) continue;
        latest.set(key, {
          accountId: update.accountId,
          trait,
          source: update.source,
          value: JSON.stringify(value),
          effectiveAt: update.effectiveAt,
          order,
        });
      }
    }
    if (accounts.size === 0) return;
    const rows = [...latest.values()].sort((a, b) => a.order - b.order);
    await this.transaction(async (client) => {
      await client.query(
        'INSERT INTO accounts (account_id) SELECT unnest($1::text[]) ON CONFLICT (account_id) DO NOTHING',
        [[...accounts]],
      );
      if (rows.length === 0) return;
      // `written` comes from a sequence in batch order, so equal effective times go to the later write.
      await client.query(
        'INSERT INTO account_traits (account_id, trait, source, value, effective_at, written) ' +
          "SELECT a, t, s, v, e, nextval('trait_writes') FROM (SELECT * FROM unnest($1::text[], $2::text[], " +
          '$3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS x(a, t, s, v, e, n) ORDER BY n) AS ordered ' +
          'ON CONFLICT (account_id, trait, source) DO UPDATE SET value = excluded.value, ' +
          'effective_at = excluded.effective_at, written = excluded.written ' +
          'WHERE excluded.effective_at >= account_traits.effective_at',
        [
          rows.map((r) => r.accountId),
          rows.map((r) => r.trait),
          rows.map((r) => r.source),
          rows.map((r) => r.value),
          rows.map((r) => r.effectiveAt),
        ],
      );
    });
  }

  async recordAccountActivity(
    activity: readonly { readonly accountId: string; readonly at: number; readonly events: number }[],
  ): Promise<void> {
    // Aggregate per account first: one INSERT cannot update the same row twice.
    const byAccount = new Map<string, { first: number; last: number; events: number }>();
    for (const entry of activity) {
      const current = byAccount.get(entry.accountId);
      if (current === undefined) {
        byAccount.set(entry.accountId, { first: entry.at, last: entry.at, events: entry.events });
      } else {
        current.first = Math.min(current.first, entry.at);
        current.last = Math.max(current.last, entry.at);
        current.events += entry.events;
      }
    }
    if (byAccount.size === 0) return;
    const entries = [...byAccount.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    await this.pool.query(
      'INSERT INTO accounts (account_id, first_seen_at, last_seen_at, event_count) ' +
        'SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) ' +
        'ON CONFLICT (account_id) DO UPDATE SET ' +
        'first_seen_at = least(coalesce(accounts.first_seen_at, excluded.first_seen_at), excluded.first_seen_at), ' +
        'last_seen_at = greatest(coalesce(accounts.last_seen_at, excluded.last_seen_at), excluded.last_seen_at), ' +
        'event_count = accounts.event_count + excluded.event_count',
      [
        entries.map(([id]) => id),
        entries.map(([, a]) => a.first),
        entries.map(([, a]) => a.last),
        entries.map(([, a]) => a.events),
      ],
    );
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const { rows } = await this.pool.query<AccountRow>('SELECT * FROM accounts WHERE account_id = $1', [
      accountId,
    ]);
    if (rows.length === 0) return undefined;
    const traits = await this.pool.query<TraitRow>('SELECT * FROM account_traits WHERE account_id = $1', [
      accountId,
    ]);
    return toAccountRecord(rows[0]!, traits.rows);
  }

  async listAccounts(
    options: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<readonly AccountRecord[]> {
    // COLLATE "C": byte order, the order SQLite's BINARY collation gives, whatever the database's locale.
    const { rows } = await this.pool.query<AccountRow>(
      'SELECT * FROM accounts ORDER BY account_id COLLATE "C" LIMIT $1 OFFSET $2',
      [options.limit ?? null, options.offset ?? 0],
    );
    if (rows.length === 0) return [];
    const traits = await this.pool.query<TraitRow>(
      'SELECT * FROM account_traits WHERE account_id = ANY($1::text[])',
      [rows.map((row) => row.account_id)],
    );
    const traitsByAccount = new Map<string, TraitRow[]>();
    for (const trait of traits.rows) {
      const list = traitsByAccount.get(trait.account_id);
      if (list === undefined) traitsByAccount.set(trait.account_id, [trait]);
      else list.push(trait);
    }
    return rows.map((row) => toAccountRecord(row, traitsByAccount.get(row.account_id) ?? []));
  }

  async registerDefinition(
    definitionId: string,
    contentHash: string,
    source: string,
    createdAt: number,
  ): Promise<number> {
    return this.transaction(async (client) => {
      // Two processes registering the same definition at once take turns on it.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pql-definition:${definitionId}`]);
      const { rows } = await client.query<{ version: number; content_hash: string }>(
        'SELECT version, content_hash FROM definition_versions WHERE definition_id = $1 ORDER BY version DESC LIMIT 1',
        [definitionId],
      );
      const latest = rows[0];
      if (latest !== undefined && latest.content_hash === contentHash) return latest.version;
      const version = (latest?.version ?? 0) + 1;
      await client.query(
        'INSERT INTO definition_versions (definition_id, version, content_hash, source, created_at) VALUES ($1, $2, $3, $4, $5)',
        [definitionId, version, contentHash, source, createdAt],
      );
      return version;
    });
  }

  async listDefinitionVersions(definitionId?: string): Promise<readonly DefinitionVersionRecord[]> {
    const { rows } = await this.pool.query<{
      definition_id: string;
      version: number;
      content_hash: string;
      source: string;
      created_at: number;
    }>(
      definitionId === undefined
        ? 'SELECT * FROM definition_versions ORDER BY definition_id COLLATE "C", version'
        : 'SELECT * FROM definition_versions WHERE definition_id = $1 ORDER BY version',
      definitionId === undefined ? [] : [definitionId],
    );
    return rows.map((row) => ({
      definitionId: row.definition_id,
      version: row.version,
      contentHash: row.content_hash,
      source: row.source,
      createdAt: row.created_at,
    }));
  }

  async claimAlerts(
    workerId: string,
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<readonly AlertRecord[]> {
    // SKIP LOCKED: workers claiming at the same moment take disjoint rows instead of queueing on each
    // other. A lease that ran out means the worker died between claiming and completing: the send may
    // have happened, so the next attempt is flagged as a possible duplicate.
    const { rows } = await this.pool.query<AlertRow>(
      `UPDATE alerts SET claimed_by = $1, claim_until = $2, attempts = attempts + 1,
         possible_duplicate = possible_duplicate OR (claim_until IS NOT NULL)
       WHERE id IN (SELECT id FROM alerts WHERE status = 'pending' AND next_attempt_at <= $3
                      AND (claim_until IS NULL OR claim_until < $3)
                    ORDER BY next_attempt_at, alert_seq LIMIT $4 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [workerId, now + leaseMs, now, limit],
    );
    return rows
      .sort((a, b) => a.next_attempt_at - b.next_attempt_at || (a.id < b.id ? -1 : 1))
      .map(toAlertRecord);
  }

  async completeAlert(id: string, workerId: string, outcome: AlertOutcome): Promise<void> {
    let status: AlertStatus = 'pending';
    let next: number | null = null;
    let deliveredAt: number | null = null;
    let error: string | null = null;
    let uncount = 0;
    switch (outcome.kind) {
      case 'delivered':
        status = 'delivered';
        deliveredAt = outcome.at;
        break;
      case 'retry':
        next = outcome.at;
        error = outcome.error;
        break;
      case 'deferred':
        next = outcome.at;
        uncount = 1; // pacing is not an attempt
        break;
      case 'dead':
      case 'disabled':
        status = outcome.kind;
        error = outcome.error;
        break;
    }
    await this.pool.query(
      `UPDATE alerts SET status = $3, next_attempt_at = coalesce($4::bigint, next_attempt_at),
         delivered_at = coalesce($5::bigint, delivered_at), last_error = coalesce($6::text, last_error),
         attempts = attempts - $7::int, claimed_by = NULL, claim_until = NULL
       WHERE id = $1 AND claimed_by = $2`,
      [id, workerId, status, next, deliveredAt, error, uncount],
    );
  }

  async listAlerts(
    filter: { readonly status?: AlertStatus; readonly limit?: number } = {},
  ): Promise<readonly AlertRecord[]> {
    const limit = filter.limit ?? 100;
    const { rows } =
      filter.status === undefined
        ? await this.pool.query<AlertRow>('SELECT * FROM alerts ORDER BY created_at DESC, id LIMIT $1', [
            limit,
          ])
        : await this.pool.query<AlertRow>(
            'SELECT * FROM alerts WHERE status = $1 ORDER BY created_at DESC, id LIMIT $2',
            [filter.status, limit],
          );
    return rows.map(toAlertRecord);
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    const { rows } = await this.pool.query<AlertRow>('SELECT * FROM alerts WHERE id = $1', [id]);
    return rows.length === 0 ? undefined : toAlertRecord(rows[0]!);
  }

  async retryAlert(id: string, now: number): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE alerts SET status = 'pending', next_attempt_at = $2, claimed_by = NULL, claim_until = NULL
       WHERE id = $1 AND status IN ('dead', 'disabled')`,
      [id, now],
    );
    return (result.rowCount ?? 0) > 0;
  }

  async recordDisposition(disposition: NewDisposition): Promise<DispositionRecord> {
    const d = disposition;
    const { rows } = await this.pool.query<{ seq: number }>(
      `INSERT INTO dispositions (pql_id, account_id, definition_id, disposition, reason, recorded_by, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq`,
      [d.pqlId, d.accountId, d.definitionId, d.disposition, d.reason, d.recordedBy ?? null, d.recordedAt],
    );
    return { ...d, seq: Number(rows[0]!.seq) };
  }

  async listDispositions(
    filter: { readonly pqlId?: string; readonly accountId?: string } = {},
  ): Promise<readonly DispositionRecord[]> {
    const { rows } = await this.pool.query<{
      seq: number;
      pql_id: string;
      account_id: string;
      definition_id: string;
      disposition: DispositionKind;
      reason: string;
      recorded_by: string | null;
      recorded_at: number;
    }>(
      `SELECT * FROM dispositions WHERE ($1::text IS NULL OR pql_id = $1) AND ($2::text IS NULL OR account_id = $2)
       ORDER BY seq`,
      [filter.pqlId ?? null, filter.accountId ?? null],
    );
    return rows.map((row) => ({
      seq: Number(row.seq),
      pqlId: row.pql_id,
      accountId: row.account_id,
      definitionId: row.definition_id,
      disposition: row.disposition,
      reason: row.reason,
      recordedBy: row.recorded_by ?? undefined,
      recordedAt: Number(row.recorded_at),
    }));
  }

  private closed = false;

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** The latest PQL of (definition, account), locked until the transaction ends. */
async function latestPql(
  client: pg.ClientBase,
  definitionId: string,
  accountId: string,
): Promise<PqlRow | undefined> {
  const { rows } = await client.query<PqlRow>(
    'SELECT * FROM pqls WHERE definition_id = $1 AND account_id = $2 ORDER BY ordinal DESC LIMIT 1 FOR UPDATE',
    [definitionId, accountId],
  );
  return rows[0];
}

async function upsertQualification(
  client: pg.ClientBase,
  t: { accountId: string; definitionId: string; definitionVersion: number; qualifiedAt: number },
): Promise<void> {
  await client.query(
    'INSERT INTO qualifications (account_id, definition_id, definition_version, qualified_at, expired_at) ' +
      'VALUES ($1, $2, $3, $4, NULL) ON CONFLICT (account_id, definition_id) ' +
      'DO UPDATE SET definition_version = excluded.definition_version, qualified_at = excluded.qualified_at, expired_at = NULL',
    [t.accountId, t.definitionId, t.definitionVersion, t.qualifiedAt],
  );
}

/** Stores a new PQL; returns its id, or undefined when the transition repeats one already stored. */
async function applyQualified(
  client: pg.ClientBase,
  t: QualifiedTransition,
  explanation: string,
  detectedAt: number,
): Promise<string | undefined> {
  // Accounts are partitioned across workers, so two writers for one pair are not expected; should it
  // happen, the unique (definition_id, account_id, ordinal) fails one of them instead of doubling a PQL.
  const latest = await latestPql(client, t.definitionId, t.accountId);
  // One open PQL per (account, definition id); and a replayed qualification (same or earlier
  // qualifiedAt than the latest PQL, open or expired) is the one already stored, not a new one.
  if (latest !== undefined && (latest.status === 'open' || t.qualifiedAt <= latest.qualified_at)) {
    return undefined;
  }
  const ordinal = (latest?.ordinal ?? 0) + 1;
  const id = `${t.definitionId}:${t.accountId}:${ordinal}`;
  await client.query(
    'INSERT INTO pqls (id, definition_id, account_id, ordinal, definition_version, qualified_at, detected_at, status, ' +
      "expired_at, trigger_event_id, explanation, corrections) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', NULL, $8, $9, '[]')",
    [
      id,
      t.definitionId,
      t.accountId,
      ordinal,
      t.definitionVersion,
      t.qualifiedAt,
      detectedAt,
      t.triggerEventId ?? null,
      explanation,
    ],
  );
  await upsertQualification(client, t);
  return id;
}

async function applyCorrected(
  client: pg.ClientBase,
  t: CorrectedTransition,
  explanation: string,
): Promise<void> {
  const latest = await latestPql(client, t.definitionId, t.accountId);
  if (latest === undefined || latest.status !== 'open' || latest.qualified_at === t.qualifiedAt) return;
  const corrections = [...(JSON.parse(latest.corrections) as number[]), latest.qualified_at];
  await client.query(
    'UPDATE pqls SET qualified_at = $2, definition_version = $3, explanation = $4, corrections = $5 WHERE id = $1',
    [latest.id, t.qualifiedAt, t.definitionVersion, explanation, JSON.stringify(corrections)],
  );
  await upsertQualification(client, t);
}

async function applyExpired(client: pg.ClientBase, t: ExpiredTransition): Promise<void> {
  const latest = await latestPql(client, t.definitionId, t.accountId);
  if (latest === undefined || latest.status !== 'open') return;
  await client.query("UPDATE pqls SET status = 'expired', expired_at = $2 WHERE id = $1", [
    latest.id,
    t.expiredAt,
  ]);
  await client.query(
    'UPDATE qualifications SET expired_at = $1 WHERE account_id = $2 AND definition_id = $3',
    [t.expiredAt, t.accountId, t.definitionId],
  );
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    seq: row.seq,
    messageId: row.message_id,
    type: row.type as EventType,
    timestamp: row.ts,
    receivedAt: row.received_at,
    userId: row.user_id ?? undefined,
    anonymousId: row.anonymous_id ?? undefined,
    accountId: row.account_id ?? undefined,
    body: row.body,
  };
}

function toPqlRecord(row: PqlRow): PqlRecord {
  return {
    id: row.id,
    accountId: row.account_id,
    definitionId: row.definition_id,
    definitionVersion: row.definition_version,
    qualifiedAt: row.qualified_at,
    detectedAt: row.detected_at,
    status: row.status,
    expiredAt: row.expired_at ?? undefined,
    triggerEventId: row.trigger_event_id ?? undefined,
    explanation: JSON.parse(row.explanation) as Explanation,
    corrections: JSON.parse(row.corrections) as number[],
  };
}

function toAlertRecord(row: AlertRow): AlertRecord {
  return {
    id: row.id,
    pqlId: row.pql_id,
    channel: row.channel,
    target: row.target,
    payload: JSON.parse(row.payload) as unknown,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    deliveredAt: row.delivered_at ?? undefined,
    lastError: row.last_error ?? undefined,
    possibleDuplicate: row.possible_duplicate,
  };
}
