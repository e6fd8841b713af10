import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { OUTBOX_MIGRATION, SqliteOutbox } from './sqlite-outbox.js';
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
  AlertOutcome,
  AlertRecord,
  AlertStatus,
  AccountTraitsUpdate,
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

/** Options for opening a SQLite store. */
export interface SqliteStoreOptions {
  /**
   * 'NORMAL' (default): with WAL, a resolved write survives `kill -9` of the process but the last
   * commits may be lost on power loss or an OS crash; 'FULL' fsyncs the WAL on every commit and
   * survives both, at the cost of one fsync per batch.
   */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /**
   * WAL size in pages (4 KB each) past which a commit copies the log into the main file before it
   * returns (SQLite's `wal_autocheckpoint`; default 1,000, 0 never). Smaller means shorter, more frequent
   * pauses of the writer. See docs/storage.md.
   */
  readonly walAutocheckpointPages?: number;
}

/** Thrown when a database file was written by a newer schema than this build knows. */
export class SqliteSchemaError extends Error {
  /** Creates the error for `path` whose `user_version` is `found` while this build knows up to `known`. */
  constructor(
    readonly path: string,
    readonly found: number,
    readonly known: number,
  ) {
    super(
      `${path}: schema version ${found} is newer than this build supports (${known}); ` +
        'upgrade pql or point it at another data directory',
    );
    this.name = 'SqliteSchemaError';
  }
}

/**
 * Dedupe by messageId uses a leveled (LSM-like) index of a 52-bit hash of the id, verified against the
 * stored message_id on every hash hit. New hashes go to the small level 0 table (at most ~100 pages), so a
 * 1,000-event commit does not dirty ~1,000 random leaves of one big index; when a level exceeds its
 * capacity (20k, 160k, 1.28M ids) it drains, in hash order, into the next one, so each target page is
 * written about once per drain. A level drains a slice per commit (a multiple of the commit's new ids,
 * growing per level so each level empties faster than the one above fills it), never in one piece: a
 * whole-level merge stalled the writer for up to a second. See docs/storage.md for the measurements. The
 * level count is part of schema version 1: changing it needs a migration.
 */
const DEDUPE_LEVELS = 4;
const DEDUPE_LEVEL0_CAPACITY = 20_000;
const DEDUPE_GROWTH = 8;
/** Rows a draining level k moves per commit: this times the commit's new ids times 2^k, at least the floor. */
const DEDUPE_DRAIN_FACTOR = 2;
const DEDUPE_DRAIN_FLOOR = 2048;

/**
 * One migration per schema version; `PRAGMA user_version` holds the last applied one. Append only:
 * a released migration is never edited, because databases in the field already ran it.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL,
    id_hash INTEGER NOT NULL,
    type TEXT NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    account_id TEXT,
    body TEXT NOT NULL
  );
  -- An index on ts alone is keyed (ts, rowid), and seq is the rowid: this is the (ts, seq) replay order.
  CREATE INDEX events_by_time ON events (ts);
  ${Array.from(
    { length: DEDUPE_LEVELS },
    (_, level) =>
      `CREATE TABLE event_ids_${level} (id_hash INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (id_hash, seq)) WITHOUT ROWID;`,
  ).join('\n')}

  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

  CREATE TABLE pqls (
    id TEXT PRIMARY KEY,
    definition_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    definition_version INTEGER NOT NULL,
    qualified_at INTEGER NOT NULL,
    detected_at INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'expired')),
    expired_at INTEGER,
    trigger_event_id TEXT,
    explanation TEXT NOT NULL,
    corrections TEXT NOT NULL DEFAULT '[]',
    UNIQUE (definition_id, account_id, ordinal)
  );
  CREATE INDEX pqls_by_qualified_at ON pqls (qualified_at);

  CREATE TABLE qualifications (
    account_id TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    definition_version INTEGER NOT NULL,
    qualified_at INTEGER NOT NULL,
    expired_at INTEGER,
    PRIMARY KEY (account_id, definition_id)
  ) WITHOUT ROWID;

  CREATE TABLE accounts (
    account_id TEXT PRIMARY KEY,
    first_seen_at INTEGER,
    last_seen_at INTEGER,
    event_count INTEGER NOT NULL DEFAULT 0
  ) WITHOUT ROWID;

  CREATE TABLE account_traits (
    account_id TEXT NOT NULL,
    trait TEXT NOT NULL,
    source TEXT NOT NULL,
    value TEXT NOT NULL,
    effective_at INTEGER NOT NULL,
    -- Store-wide write counter: among sources with the same effective time, the later write wins.
    written INTEGER NOT NULL,
    PRIMARY KEY (account_id, trait, source)
  ) WITHOUT ROWID;

  CREATE TABLE definition_versions (
    definition_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (definition_id, version)
  ) WITHOUT ROWID;
  `,
  OUTBOX_MIGRATION,
  `
  CREATE TABLE trait_changes (
    seq INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    source TEXT NOT NULL,
    effective_at INTEGER NOT NULL,
    traits TEXT NOT NULL
  );
  CREATE INDEX trait_changes_by_time ON trait_changes (effective_at);
  `,
  `
  CREATE TABLE dispositions (
    seq INTEGER PRIMARY KEY,
    pql_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    definition_id TEXT NOT NULL,
    disposition TEXT NOT NULL CHECK (disposition IN ('contacted', 'won', 'disqualified')),
    reason TEXT NOT NULL,
    recorded_by TEXT,
    recorded_at INTEGER NOT NULL
  );
  CREATE INDEX dispositions_by_pql ON dispositions (pql_id, seq);
  `,
];

const CHECKPOINT_KEY = 'checkpoint_seq';
const DEFAULT_BATCH_SIZE = 10_000;

/**
 * A 52-bit hash of a messageId (cyrb53 with the top bit dropped): a small integer key for the dedupe
 * index. It is stored on disk, so it must never change without a migration that rehashes.
 */
export function hashMessageId(messageId: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < messageId.length; i++) {
    const ch = messageId.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (0xfffff & h2) + (h1 >>> 0);
}

type EventRow = [
  seq: number,
  messageId: string,
  type: string,
  ts: number,
  receivedAt: number,
  userId: string | null,
  anonymousId: string | null,
  accountId: string | null,
  body: string,
];

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

interface QualificationRow {
  account_id: string;
  definition_id: string;
  definition_version: number;
  qualified_at: number;
  expired_at: number | null;
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

interface DefinitionVersionRow {
  definition_id: string;
  version: number;
  content_hash: string;
  source: string;
  created_at: number;
}

const EVENT_COLUMNS = 'seq, message_id, type, ts, received_at, user_id, anonymous_id, account_id, body';

/**
 * The embedded store: one SQLite file in WAL mode behind the async store port; every method does its
 * work synchronously (better-sqlite3) and each write batch is one transaction.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly outbox: SqliteOutbox;
  private readonly statements: ReturnType<typeof prepareStatements>;
  /** Rows in each dedupe level, so a commit knows when to merge without counting. */
  private readonly dedupeLevelSizes: number[];
  /** Levels past their capacity, moving a slice into the next level per commit until empty. */
  private readonly drainingLevels: boolean[] = new Array<boolean>(DEDUPE_LEVELS).fill(false);
  private traitWriteCounter: number;
  /** Each write method's body wrapped once in BEGIN IMMEDIATE ... COMMIT (rolled back if it throws). */
  private readonly transactions;

  private constructor(db: Database.Database) {
    this.db = db;
    this.outbox = new SqliteOutbox(db);
    this.statements = prepareStatements(db);
    this.transactions = {
      appendEvents: db.transaction((events: readonly NewEvent[]) => this.appendEventsInTransaction(events))
        .immediate,
      commitTransitions: db.transaction((batch: TransitionBatch) =>
        this.commitTransitionsInTransaction(batch),
      ).immediate,
      updateAccountTraits: db.transaction((updates: readonly AccountTraitsUpdate[]) =>
        this.updateAccountTraitsInTransaction(updates),
      ).immediate,
      recordAccountActivity: db.transaction(
        (activity: readonly { readonly accountId: string; readonly at: number; readonly events: number }[]) =>
          this.recordAccountActivityInTransaction(activity),
      ).immediate,
      registerDefinition: db.transaction(
        (definitionId: string, contentHash: string, source: string, createdAt: number) =>
          this.registerDefinitionInTransaction(definitionId, contentHash, source, createdAt),
      ).immediate,
    };
    // The last level is unbounded and never merged, so its size is not needed (nor counted at open).
    this.dedupeLevelSizes = Array.from({ length: DEDUPE_LEVELS }, (_, level) =>
      level === DEDUPE_LEVELS - 1
        ? 0
        : (db.prepare(`SELECT count(*) FROM event_ids_${level}`).pluck().get() as number),
    );
    this.traitWriteCounter =
      (db.prepare('SELECT coalesce(max(written), 0) FROM account_traits').pluck().get() as number) ?? 0;
  }

  /** Opens (creating the file, its directory and the schema if needed) the store at `path`; ':memory:' is allowed. */
  static open(path: string, options: SqliteStoreOptions = {}): SqliteStore {
    const walPages = options.walAutocheckpointPages ?? 1000;
    if (!Number.isInteger(walPages) || walPages < 0)
      throw new RangeError(`walAutocheckpointPages: expected a whole number >= 0, got ${walPages}`);
    if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      // WAL: readers do not block the writer, and a commit is one append to the -wal file.
      db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a commit is written to the OS before it returns (survives kill -9) and fsynced at
      // checkpoints; WAL + FULL also fsyncs every commit (survives power loss). See docs/storage.md.
      db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.pragma('cache_size = -32000');
      db.pragma(`wal_autocheckpoint = ${walPages}`);
      migrate(db, path);
      return new SqliteStore(db);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  async appendEvents(events: readonly NewEvent[]): Promise<{ readonly inserted: readonly boolean[] }> {
    const levelSizes = [...this.dedupeLevelSizes];
    const draining = [...this.drainingLevels];
    try {
      return { inserted: this.transactions.appendEvents(events) };
    } catch (error) {
      // The transaction rolled back; so do the level sizes and drain states it changed.
      this.dedupeLevelSizes.splice(0, levelSizes.length, ...levelSizes);
      this.drainingLevels.splice(0, draining.length, ...draining);
      throw error;
    }
  }

  private appendEventsInTransaction(batch: readonly NewEvent[]): boolean[] {
    const s = this.statements;
    const inserted = new Array<boolean>(batch.length);
    if (batch.length === 0) return inserted;
    const hashes = batch.map((event) => hashMessageId(event.messageId));
    // One lookup for the whole batch: the stored ids that share a hash with any incoming id. Comparing
    // the ids themselves makes a 52-bit collision harmless; adding each new id catches in-batch repeats.
    const known = new Set(s.findByHashes.all({ hashes: JSON.stringify(hashes) }) as string[]);
    const newIds: [hash: number, seq: number][] = [];
    for (let i = 0; i < batch.length; i++) {
      const event = batch[i]!;
      if (known.has(event.messageId)) {
        inserted[i] = false;
        continue;
      }
      const idHash = hashes[i]!;
      const seq = s.insertEvent.run(
        event.messageId,
        idHash,
        event.type,
        event.timestamp,
        event.receivedAt,
        event.userId ?? null,
        event.anonymousId ?? null,
        event.accountId ?? null,
        event.body,
      ).lastInsertRowid;
      newIds.push([idHash, seq as number]);
      known.add(event.messageId);
      inserted[i] = true;
    }
    // One statement for the batch's new (hash, seq) pairs instead of one per event.
    if (newIds.length > 0) s.insertEventIds.run({ pairs: JSON.stringify(newIds) });
    this.dedupeLevelSizes[0]! += newIds.length;
    this.compactDedupeLevels(newIds.length);
    return inserted;
  }

  /**
   * Drains each full dedupe level into the next, a slice per commit: the slice is the level's lowest
   * (hash, seq) keys, so the rows it adds to the next level share a narrow key range (few pages), and
   * over a whole drain each target page is written about once, as a one-piece merge would.
   */
  private compactDedupeLevels(newIds: number): void {
    for (let level = 0; level < DEDUPE_LEVELS - 1; level++) {
      const size = this.dedupeLevelSizes[level]!;
      if (size >= DEDUPE_LEVEL0_CAPACITY * DEDUPE_GROWTH ** level) this.drainingLevels[level] = true;
      if (!this.drainingLevels[level]) continue;
      const quota = Math.max(DEDUPE_DRAIN_FLOOR, newIds * DEDUPE_DRAIN_FACTOR * 2 ** level);
      let moved: number;
      const last = this.statements.drainBoundary[level]!.get(quota - 1) as [number, number] | undefined;
      if (last === undefined) {
        moved = this.statements.mergeLevel[level]!.run().changes;
        this.statements.clearLevel[level]!.run();
      } else {
        const bound = { hash: last[0], seq: last[1] };
        moved = this.statements.drainSlice[level]!.run(bound).changes;
        this.statements.deleteSlice[level]!.run(bound);
      }
      this.dedupeLevelSizes[level] = last === undefined ? 0 : size - moved;
      this.dedupeLevelSizes[level + 1]! += moved;
      if (this.dedupeLevelSizes[level] === 0) this.drainingLevels[level] = false;
    }
  }

  async *readEvents(options: ReadEventsOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`readEvents: batchSize: expected a positive integer, got ${batchSize}`);
    }
    const afterSeq = options.afterSeq ?? 0;
    // Keyset pagination: each page is one complete `.all()`, so no cursor stays open while the caller
    // awaits (and perhaps writes); the next page starts strictly after the last row seen.
    if ((options.order ?? 'time') === 'arrival') {
      let lastSeq = afterSeq;
      for (;;) {
        const rows = this.statements.readByArrival.all(lastSeq, batchSize) as EventRow[];
        if (rows.length === 0) return;
        lastSeq = rows[rows.length - 1]![0];
        yield rows.map(toStoredEvent);
        if (rows.length < batchSize) return;
      }
    }
    let lastTs = Number.MIN_SAFE_INTEGER;
    let lastSeq = 0;
    for (;;) {
      const rows = this.statements.readByTime.all({
        lastTs,
        lastSeq,
        afterSeq,
        limit: batchSize,
      }) as EventRow[];
      if (rows.length === 0) return;
      const last = rows[rows.length - 1]!;
      lastTs = last[3];
      lastSeq = last[0];
      yield rows.map(toStoredEvent);
      if (rows.length < batchSize) return;
    }
  }

  async countEvents(): Promise<number> {
    return this.statements.countEvents.get() as number;
  }

  async commitTransitions(batch: TransitionBatch): Promise<void> {
    this.transactions.commitTransitions(batch);
  }

  private commitTransitionsInTransaction(b: TransitionBatch): void {
    const pqlIds: (string | undefined)[] = [];
    for (const transition of b.transitions) {
      switch (transition.kind) {
        case 'qualified':
          pqlIds.push(this.applyQualified(transition, b.detectedAt));
          continue;
        case 'corrected':
          this.applyCorrected(transition);
          break;
        case 'expired':
          this.applyExpired(transition);
          break;
      }
      pqlIds.push(undefined);
    }
    if (b.alerts !== undefined && b.alerts.length > 0) this.outbox.enqueue(b.alerts, pqlIds, b.detectedAt);
    if (b.checkpointSeq !== undefined) this.statements.setMeta.run(CHECKPOINT_KEY, String(b.checkpointSeq));
  }

  /** Stores a new PQL; returns its id, or undefined when the transition repeats one already stored. */
  private applyQualified(t: QualifiedTransition, detectedAt: number): string | undefined {
    const s = this.statements;
    const latest = s.latestPql.get(t.definitionId, t.accountId) as PqlRow | undefined;
    // One open PQL per (account, definition id); and a replayed qualification (same or earlier
    // qualifiedAt than the latest PQL, open or expired) is the one already stored, not a new one.
    if (latest !== undefined && (latest.status === 'open' || t.qualifiedAt <= latest.qualified_at))
      return undefined;
    const ordinal = (latest?.ordinal ?? 0) + 1;
    const id = `${t.definitionId}:${t.accountId}:${ordinal}`;
    s.insertPql.run({
      id,
      definitionId: t.definitionId,
      accountId: t.accountId,
      ordinal,
      definitionVersion: t.definitionVersion,
      qualifiedAt: t.qualifiedAt,
      detectedAt,
      triggerEventId: t.triggerEventId ?? null,
      explanation: JSON.stringify(t.explanation),
    });
    s.upsertQualification.run({
      accountId: t.accountId,
      definitionId: t.definitionId,
      definitionVersion: t.definitionVersion,
      qualifiedAt: t.qualifiedAt,
    });
    return id;
  }

  private applyCorrected(t: CorrectedTransition): void {
    const s = this.statements;
    const latest = s.latestPql.get(t.definitionId, t.accountId) as PqlRow | undefined;
    if (latest === undefined || latest.status !== 'open' || latest.qualified_at === t.qualifiedAt) return;
    const corrections = [...(JSON.parse(latest.corrections) as number[]), latest.qualified_at];
    s.correctPql.run({
      id: latest.id,
      qualifiedAt: t.qualifiedAt,
      definitionVersion: t.definitionVersion,
      explanation: JSON.stringify(t.explanation),
      corrections: JSON.stringify(corrections),
    });
    s.upsertQualification.run({
      accountId: t.accountId,
      definitionId: t.definitionId,
      definitionVersion: t.definitionVersion,
      qualifiedAt: t.qualifiedAt,
    });
  }

  private applyExpired(t: ExpiredTransition): void {
    const s = this.statements;
    const latest = s.latestPql.get(t.definitionId, t.accountId) as PqlRow | undefined;
    if (latest === undefined || latest.status !== 'open') return;
    s.expirePql.run(t.expiredAt, latest.id);
    s.expireQualification.run(t.expiredAt, t.accountId, t.definitionId);
  }

  async loadCheckpoint(): Promise<number> {
    const value = this.statements.getMeta.get(CHECKPOINT_KEY) as string | undefined;
    return value === undefined ? 0 : Number(value);
  }

  async loadQualifications(): Promise<readonly QualificationRecord[]> {
    return (this.statements.allQualifications.all() as QualificationRow[]).map((row) => ({
      accountId: row.account_id,
      definitionId: row.definition_id,
      definitionVersion: row.definition_version,
      qualifiedAt: row.qualified_at,
      expiredAt: row.expired_at ?? undefined,
    }));
  }

  async listPqls(filter: PqlFilter = {}): Promise<readonly PqlRecord[]> {
    const where: string[] = [];
    const params: Record<string, string | number> = {};
    if (filter.definitionId !== undefined) {
      where.push('definition_id = @definitionId');
      params.definitionId = filter.definitionId;
    }
    if (filter.accountId !== undefined) {
      where.push('account_id = @accountId');
      params.accountId = filter.accountId;
    }
    if (filter.status !== undefined) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.since !== undefined) {
      where.push('qualified_at >= @since');
      params.since = filter.since;
    }
    params.limit = filter.limit ?? -1;
    const sql =
      `SELECT * FROM pqls ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ` +
      'ORDER BY qualified_at DESC, rowid DESC LIMIT @limit';
    // Few distinct filter shapes exist (16), and better-sqlite3 prepares in microseconds.
    return (this.db.prepare(sql).all(params) as PqlRow[]).map(toPqlRecord);
  }

  async getPql(id: string): Promise<PqlRecord | undefined> {
    const row = this.statements.getPql.get(id) as PqlRow | undefined;
    return row === undefined ? undefined : toPqlRecord(row);
  }

  async updateAccountTraits(updates: readonly AccountTraitsUpdate[]): Promise<void> {
    this.transactions.updateAccountTraits(updates);
  }

  private updateAccountTraitsInTransaction(batch: readonly AccountTraitsUpdate[]): void {
    const s = this.statements;
    for (const update of batch) {
      s.ensureAccount.run(update.accountId);
      for (const [trait, value] of Object.entries(update.traits)) {
        // JSON has no undefined: a trait set to undefined carries no value to keep.
        if (value === undefined) continue;
        s.upsertTrait.run({
          accountId: update.accountId,
          trait,
          source: update.source,
          value: JSON.stringify(value),
          effectiveAt: update.effectiveAt,
          written: ++this.traitWriteCounter,
        });
      }
    }
  }

  async recordAccountActivity(
    activity: readonly { readonly accountId: string; readonly at: number; readonly events: number }[],
  ): Promise<void> {
    this.transactions.recordAccountActivity(activity);
  }

  private recordAccountActivityInTransaction(
    batch: readonly { readonly accountId: string; readonly at: number; readonly events: number }[],
  ): void {
    for (const entry of batch) {
      this.statements.recordActivity.run({ accountId: entry.accountId, at: entry.at, events: entry.events });
    }
  }

  async getAccount(accountId: string): Promise<AccountRecord | undefined> {
    const row = this.statements.getAccount.get(accountId) as AccountRow | undefined;
    if (row === undefined) return undefined;
    return toAccountRecord(row, this.statements.traitsOf.all(accountId) as TraitRow[]);
  }

  async listAccounts(
    options: { readonly limit?: number; readonly offset?: number } = {},
  ): Promise<readonly AccountRecord[]> {
    const rows = this.statements.listAccounts.all(options.limit ?? -1, options.offset ?? 0) as AccountRow[];
    if (rows.length === 0) return [];
    const first = rows[0]!.account_id;
    const last = rows[rows.length - 1]!.account_id;
    const traitsByAccount = new Map<string, TraitRow[]>();
    for (const trait of this.statements.traitsBetween.all(first, last) as TraitRow[]) {
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
    return this.transactions.registerDefinition(definitionId, contentHash, source, createdAt);
  }

  private registerDefinitionInTransaction(
    definitionId: string,
    contentHash: string,
    source: string,
    createdAt: number,
  ): number {
    const latest = this.statements.latestDefinitionVersion.get(definitionId) as
      DefinitionVersionRow | undefined;
    if (latest !== undefined && latest.content_hash === contentHash) return latest.version;
    const version = (latest?.version ?? 0) + 1;
    this.statements.insertDefinitionVersion.run(definitionId, version, contentHash, source, createdAt);
    return version;
  }

  async listDefinitionVersions(definitionId?: string): Promise<readonly DefinitionVersionRecord[]> {
    const rows = (
      definitionId === undefined
        ? this.statements.allDefinitionVersions.all()
        : this.statements.definitionVersionsOf.all(definitionId)
    ) as DefinitionVersionRow[];
    return rows.map((row) => ({
      definitionId: row.definition_id,
      version: row.version,
      contentHash: row.content_hash,
      source: row.source,
      createdAt: row.created_at,
    }));
  }

  async appendTraitChanges(
    changes: readonly TraitChange[],
  ): Promise<{ readonly inserted: readonly boolean[] }> {
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO trait_changes (change_id, account_id, source, effective_at, traits) VALUES (?, ?, ?, ?, ?)',
    );
    const inserted = this.db
      .transaction(() =>
        changes.map(
          (c) =>
            insert.run(c.changeId, c.accountId, c.source, c.effectiveAt, JSON.stringify(c.traits)).changes >
            0,
        ),
      )
      .immediate();
    return { inserted };
  }

  async readTraitChanges(): Promise<readonly TraitChange[]> {
    const rows = this.db
      .prepare(
        'SELECT change_id, account_id, source, effective_at, traits FROM trait_changes ORDER BY effective_at, seq',
      )
      .all() as {
      change_id: string;
      account_id: string;
      source: TraitSource;
      effective_at: number;
      traits: string;
    }[];
    return rows.map((r) => ({
      kind: 'traits',
      changeId: r.change_id,
      accountId: r.account_id,
      source: r.source,
      effectiveAt: r.effective_at,
      traits: JSON.parse(r.traits) as Record<string, unknown>,
    }));
  }

  async claimAlerts(
    workerId: string,
    now: number,
    limit: number,
    leaseMs: number,
  ): Promise<readonly AlertRecord[]> {
    return this.outbox.claimDue(workerId, now, limit, leaseMs);
  }

  async completeAlert(id: string, workerId: string, outcome: AlertOutcome): Promise<void> {
    this.outbox.finish(id, workerId, outcome);
  }

  async listAlerts(
    filter: { readonly status?: AlertStatus; readonly limit?: number } = {},
  ): Promise<readonly AlertRecord[]> {
    return this.outbox.all(filter.status, filter.limit ?? 100);
  }

  async getAlert(id: string): Promise<AlertRecord | undefined> {
    return this.outbox.one(id);
  }

  async retryAlert(id: string, now: number): Promise<boolean> {
    return this.outbox.requeue(id, now);
  }

  async recordDisposition(disposition: NewDisposition): Promise<DispositionRecord> {
    const d = disposition;
    const result = this.db
      .prepare(
        'INSERT INTO dispositions (pql_id, account_id, definition_id, disposition, reason, recorded_by, recorded_at) ' +
          'VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(d.pqlId, d.accountId, d.definitionId, d.disposition, d.reason, d.recordedBy ?? null, d.recordedAt);
    return { ...d, seq: Number(result.lastInsertRowid) };
  }

  async listDispositions(
    filter: { readonly pqlId?: string; readonly accountId?: string } = {},
  ): Promise<readonly DispositionRecord[]> {
    const rows = (
      filter.pqlId !== undefined
        ? this.db.prepare('SELECT * FROM dispositions WHERE pql_id = ? ORDER BY seq').all(filter.pqlId)
        : filter.accountId !== undefined
          ? this.db
              .prepare('SELECT * FROM dispositions WHERE account_id = ? ORDER BY seq')
              .all(filter.accountId)
          : this.db.prepare('SELECT * FROM dispositions ORDER BY seq').all()
    ) as DispositionRow[];
    return rows
      .filter((r) => filter.accountId === undefined || r.account_id === filter.accountId)
      .map(toDispositionRecord);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

interface DispositionRow {
  seq: number;
  pql_id: string;
  account_id: string;
  definition_id: string;
  disposition: DispositionKind;
  reason: string;
  recorded_by: string | null;
  recorded_at: number;
}

function toDispositionRecord(row: DispositionRow): DispositionRecord {
  return {
    seq: row.seq,
    pqlId: row.pql_id,
    accountId: row.account_id,
    definitionId: row.definition_id,
    disposition: row.disposition,
    reason: row.reason,
    recordedBy: row.recorded_by ?? undefined,
    recordedAt: row.recorded_at,
  };
}

function migrate(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) throw new SqliteSchemaError(path, current, MIGRATIONS.length);
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]!);
      // user_version is part of the database header, so it commits or rolls back with the migration.
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}

function prepareStatements(db: Database.Database) {
  const levels = Array.from({ length: DEDUPE_LEVELS }, (_, level) => level);
  return {
    findByHashes: db
      .prepare(
        'SELECT message_id FROM events WHERE seq IN (' +
          levels
            .map(
              (level) =>
                `SELECT seq FROM event_ids_${level} WHERE id_hash IN (SELECT value FROM json_each(@hashes))`,
            )
            .join(' UNION ALL ') +
          ')',
      )
      .pluck(),
    insertEvent: db.prepare(
      'INSERT INTO events (message_id, id_hash, type, ts, received_at, user_id, anonymous_id, account_id, body) ' +
        'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    // pairs is a JSON array of [hash, seq] arrays.
    insertEventIds: db.prepare(
      "INSERT INTO event_ids_0 (id_hash, seq) SELECT value ->> '$[0]', value ->> '$[1]' FROM json_each(@pairs)",
    ),
    mergeLevel: levels
      .slice(0, -1)
      .map((level) =>
        db.prepare(
          `INSERT INTO event_ids_${level + 1} (id_hash, seq) SELECT id_hash, seq FROM event_ids_${level} ORDER BY id_hash, seq`,
        ),
      ),
    clearLevel: levels.slice(0, -1).map((level) => db.prepare(`DELETE FROM event_ids_${level}`)),
    // The key of the level's Nth lowest row (OFFSET N), the last row of a drain slice.
    drainBoundary: levels
      .slice(0, -1)
      .map((level) =>
        db
          .prepare(`SELECT id_hash, seq FROM event_ids_${level} ORDER BY id_hash, seq LIMIT 1 OFFSET ?`)
          .raw(),
      ),
    drainSlice: levels
      .slice(0, -1)
      .map((level) =>
        db.prepare(
          `INSERT INTO event_ids_${level + 1} (id_hash, seq) SELECT id_hash, seq FROM event_ids_${level} ` +
            'WHERE (id_hash, seq) <= (@hash, @seq) ORDER BY id_hash, seq',
        ),
      ),
    deleteSlice: levels
      .slice(0, -1)
      .map((level) => db.prepare(`DELETE FROM event_ids_${level} WHERE (id_hash, seq) <= (@hash, @seq)`)),
    readByArrival: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?`).raw(),
    readByTime: db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM events WHERE (ts, seq) > (@lastTs, @lastSeq) AND seq > @afterSeq ` +
          'ORDER BY ts, seq LIMIT @limit',
      )
      .raw(),
    countEvents: db.prepare('SELECT count(*) FROM events').pluck(),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
    setMeta: db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    latestPql: db.prepare(
      'SELECT * FROM pqls WHERE definition_id = ? AND account_id = ? ORDER BY ordinal DESC LIMIT 1',
    ),
    getPql: db.prepare('SELECT * FROM pqls WHERE id = ?'),
    insertPql: db.prepare(
      'INSERT INTO pqls (id, definition_id, account_id, ordinal, definition_version, qualified_at, detected_at, status, ' +
        'expired_at, trigger_event_id, explanation, corrections) VALUES (@id, @definitionId, @accountId, @ordinal, ' +
        "@definitionVersion, @qualifiedAt, @detectedAt, 'open', NULL, @triggerEventId, @explanation, '[]')",
    ),
    correctPql: db.prepare(
      'UPDATE pqls SET qualified_at = @qualifiedAt, definition_version = @definitionVersion, explanation = @explanation, ' +
        'corrections = @corrections WHERE id = @id',
    ),
    expirePql: db.prepare("UPDATE pqls SET status = 'expired', expired_at = ? WHERE id = ?"),
    upsertQualification: db.prepare(
      'INSERT INTO qualifications (account_id, definition_id, definition_version, qualified_at, expired_at) ' +
        'VALUES (@accountId, @definitionId, @definitionVersion, @qualifiedAt, NULL) ON CONFLICT (account_id, definition_id) ' +
        'DO UPDATE SET definition_version = excluded.definition_version, qualified_at = excluded.qualified_at, expired_at = NULL',
    ),
    expireQualification: db.prepare(
      'UPDATE qualifications SET expired_at = ? WHERE account_id = ? AND definition_id = ?',
    ),
    allQualifications: db.prepare('SELECT * FROM qualifications ORDER BY account_id, definition_id'),
    ensureAccount: db.prepare(
      'INSERT INTO accounts (account_id) VALUES (?) ON CONFLICT (account_id) DO NOTHING',
    ),
    upsertTrait: db.prepare(
      'INSERT INTO account_traits (account_id, trait, source, value, effective_at, written) ' +
        'VALUES (@accountId, @trait, @source, @value, @effectiveAt, @written) ' +
        'ON CONFLICT (account_id, trait, source) DO UPDATE SET value = excluded.value, ' +
        'effective_at = excluded.effective_at, written = excluded.written ' +
        // Ties go to the later call: >=, not >.
        'WHERE excluded.effective_at >= account_traits.effective_at',
    ),
    recordActivity: db.prepare(
      'INSERT INTO accounts (account_id, first_seen_at, last_seen_at, event_count) VALUES (@accountId, @at, @at, @events) ' +
        'ON CONFLICT (account_id) DO UPDATE SET ' +
        'first_seen_at = min(coalesce(first_seen_at, excluded.first_seen_at), excluded.first_seen_at), ' +
        'last_seen_at = max(coalesce(last_seen_at, excluded.last_seen_at), excluded.last_seen_at), ' +
        'event_count = event_count + excluded.event_count',
    ),
    getAccount: db.prepare('SELECT * FROM accounts WHERE account_id = ?'),
    listAccounts: db.prepare('SELECT * FROM accounts ORDER BY account_id LIMIT ? OFFSET ?'),
    traitsOf: db.prepare('SELECT * FROM account_traits WHERE account_id = ?'),
    traitsBetween: db.prepare('SELECT * FROM account_traits WHERE account_id BETWEEN ? AND ?'),
    latestDefinitionVersion: db.prepare(
      'SELECT * FROM definition_versions WHERE definition_id = ? ORDER BY version DESC LIMIT 1',
    ),
    insertDefinitionVersion: db.prepare(
      'INSERT INTO definition_versions (definition_id, version, content_hash, source, created_at) VALUES (?, ?, ?, ?, ?)',
    ),
    allDefinitionVersions: db.prepare('SELECT * FROM definition_versions ORDER BY definition_id, version'),
    definitionVersionsOf: db.prepare(
      'SELECT * FROM definition_versions WHERE definition_id = ? ORDER BY version',
    ),
  };
}

function toStoredEvent(row: EventRow): StoredEvent {
  return {
    seq: row[0],
    messageId: row[1],
    type: row[2] as EventType,
    timestamp: row[3],
    receivedAt: row[4],
    userId: row[5] ?? undefined,
    anonymousId: row[6] ?? undefined,
    accountId: row[7] ?? undefined,
    body: row[8],
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
