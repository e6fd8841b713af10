import { tmpdir } from 'node:os';
import type * as DuckdbApi from '@duckdb/node-api';
import type { AccountJoinKeys } from '../core/sources/join-resolver.js';

/**
 * What the DuckDB reader hands to analysis: every account's earliest event, `created_at` and latest event,
 * then its behaviour rows (track, page and screen events in the behaviour window after sign-up) in account
 * order, plus the accounts' CRM/billing join keys and counters.
 */
export interface ColumnarExportSink {
  /**
   * Called once per account, in account order, before its behaviour rows; `rows` is at least the number
   * of behaviour rows that follow (a capacity hint).
   */
  addAccount(
    accountId: string,
    firstSeenAt: number,
    lastSeenAt: number,
    createdAt: number | undefined,
    rows: number,
  ): void;
  /** The behaviour's feature keys (`event:X`, `page:X`, `screen:X`), before any row: rows name them by index. */
  setColumnarFeatures(keys: readonly string[]): void;
  /**
   * Behaviour rows (feature index, time, canonical user as an integer) of the account added last, in time
   * order; an account's rows may come in several calls. The arrays are reused after the call.
   */
  addBehaviourRows(features: Int32Array, times: Float64Array, users: Int32Array, count: number): void;
}

/** Counters of a DuckDB read (the fields of `AnalysisLoadStats` it can know). */
export interface ColumnarExportStats {
  /** Lines that are events (valid messages). */
  readonly events: number;
  /** Lines that are JSON objects but not valid events (no type, ids, time, event name, group or previous id). */
  readonly rejected: number;
  /** Events of users who never joined an account. */
  readonly unattributed: number;
}

/** Options of `readExportWithDuckdb`. */
export interface ColumnarReadOptions {
  /** Days after sign-up whose behaviour is kept. */
  readonly behaviourDays: number;
  /** Called after each SQL step. */
  readonly onStep?: (done: number, total: number) => void;
  /**
   * Called with every account and its CRM/billing join keys (a group call's latest `crm_company_id` and
   * `domain` or `website`) as soon as they are known, while attribution still runs: the caller can join
   * the CRM and billing meanwhile.
   */
  readonly onAccountKeys?: (keys: AccountJoinKeys[]) => void;
  /** DuckDB's memory limit (default `2GB`); it spills to the temporary directory past it. */
  readonly memoryLimit?: string;
}

/** The export could not be read by DuckDB (a malformed line, a field of an unexpected type): use the node reader. */
export class ColumnarReadError extends Error {
  override readonly name = 'ColumnarReadError';
}

/** Thrown when `@duckdb/node-api` is not installed (it is an optional dependency). */
export class DuckdbUnavailableError extends Error {
  override readonly name = 'DuckdbUnavailableError';
}

const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** A string field as the parser reads ids: an empty string is none. */
const id = (column: string): string => `nullif(${column}, '')`;

/**
 * Reads `events.ndjson` with DuckDB and attributes its events to accounts by DESIGN.md's identity rules,
 * in SQL: `alias` and messages carrying both ids link an anonymous id to a user (the first link of an id
 * wins; chains resolve to their end); an event's account is its `context.groupId`, else the account of
 * its user's latest group call at or before it, else the user's first account. Unlike the streaming
 * resolver, which attributes in arrival order as live ingest does, this works in event-time order over
 * the whole file, so the input order does not matter. Behaviour is cut to [sign-up, sign-up + window).
 *
 * Every line must be valid JSON with fields of the types Segment specifies (strings or numbers for ids,
 * ISO-8601 times): DuckDB rejects the whole read otherwise, with a `ColumnarReadError`, and the caller
 * reads the file with the streaming reader, which reports each bad line.
 */
export async function readExportWithDuckdb(
  eventsPath: string,
  sink: ColumnarExportSink,
  options: ColumnarReadOptions,
): Promise<ColumnarExportStats> {
  const { behaviourDays, onStep, onAccountKeys } = options;
  let duckdb: typeof DuckdbApi;
  try {
    duckdb = await import('@duckdb/node-api');
  } catch (error) {
    throw new DuckdbUnavailableError(`@duckdb/node-api is not installed (${(error as Error).message})`);
  }
  const instance = await duckdb.DuckDBInstance.create(':memory:', {
    preserve_insertion_order: 'false',
    // Bounded: past the limit DuckDB spills to temporary files. At 10.7M events, uncapped: 3.1 GB peak
    // RSS; 2 GB: 2.4 GB and as fast; 1 GB: 1.6 GB, 10-50% slower.
    memory_limit: options.memoryLimit ?? '2GB',
    temp_directory: tmpdir(),
  });
  const db = await instance.connect();
  // Loading, each SQL step, then streaming the behaviour.
  const steps = STEPS.length + 2;
  try {
    try {
      await db.run(loadEventsSql(eventsPath));
    } catch (error) {
      throw new ColumnarReadError(`DuckDB could not read ${eventsPath}: ${(error as Error).message}`);
    }
    onStep?.(1, steps);
    for (const [i, sql] of STEPS.entries()) {
      await db.run(sql);
      onStep?.(i + 2, steps);
      if (i === 0 && onAccountKeys !== undefined) {
        const keys = (
          await db.runAndReadAll(`SELECT account, crm, domain FROM account_keys ORDER BY account`)
        ).getRows() as [string, string | null, string | null][];
        onAccountKeys(
          keys.map(([accountId, crm, domain]) => ({
            accountId,
            crmCompanyId: crm ?? undefined,
            domain: domain ?? undefined,
          })),
        );
      }
    }
    const counts = (
      await db.runAndReadAll(`SELECT
        (SELECT count(*) FROM msg WHERE valid)::DOUBLE,
        (SELECT count(*) FROM msg WHERE NOT valid)::DOUBLE,
        (SELECT count(*) FROM ev WHERE a IS NULL)::DOUBLE`)
    ).getRows()[0] as [number, number, number];
    sink.setColumnarFeatures(
      (await db.runAndReadAll(`SELECT key FROM feature ORDER BY f`)).getRows().map((row) => row[0] as string),
    );
    // Indexed by the account's integer (an account named only by an alias's context has no events: a hole).
    const accounts: AccountRow[] = [];
    const spans = await db.runAndReadAll(
      `SELECT a, account, first_seen, last_seen, created, behaviour::DOUBLE FROM account_span ORDER BY a`,
    );
    for (const [a, ...row] of spans.getRows() as [number, ...AccountRow][]) accounts[a] = row;
    const result = await db.stream(`
      SELECT s.a, e.f, e.t, e.u FROM ev e JOIN account_span s ON s.a = e.a
      WHERE e.f IS NOT NULL AND e.t >= s.signup AND e.t < s.signup + ${behaviourDays * 86_400_000}::DOUBLE
      ORDER BY s.a, e.t`);
    // Each run of one account's rows within a chunk goes to the sink in one call.
    const run = { f: new Int32Array(0), t: new Float64Array(0), u: new Int32Array(0), size: 0 };
    const flush = (): void => {
      if (run.size > 0) sink.addBehaviourRows(run.f, run.t, run.u, run.size);
      run.size = 0;
    };
    let next = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      const rows = chunk?.rowCount ?? 0;
      if (chunk === null || rows === 0) break;
      if (run.f.length < rows) {
        run.f = new Int32Array(rows);
        run.t = new Float64Array(rows);
        run.u = new Int32Array(rows);
      }
      const a = chunk.getColumnVector(0);
      const f = chunk.getColumnVector(1);
      const t = chunk.getColumnVector(2);
      const u = chunk.getColumnVector(3);
      for (let i = 0; i < rows; i++) {
        const account = a.getItem(i) as number;
        if (account >= next) {
          flush();
          // Accounts without behaviour in the window still need their sign-up: announce every one up to here.
          while (next <= account) announce(sink, accounts[next++]);
        }
        run.f[run.size] = f.getItem(i) as number;
        run.t[run.size] = t.getItem(i) as number;
        run.u[run.size] = u.getItem(i) as number;
        run.size++;
      }
      flush();
    }
    while (next < accounts.length) announce(sink, accounts[next++]);
    onStep?.(steps, steps);
    return { events: counts[0], rejected: counts[1], unattributed: counts[2] };
  } finally {
    db.closeSync();
    instance.closeSync();
  }
}

/** An account's id, earliest and latest event, created_at (or null), and its events with a feature. */
type AccountRow = [string, number, number, number | null, number];

function announce(sink: ColumnarExportSink, row: AccountRow | undefined): void {
  if (row === undefined) return;
  sink.addAccount(row[0], row[1], row[2], row[3] ?? undefined, row[4]);
}

/**
 * The fields analysis reads, one row per line, with the line's validity as the parser sees it for those
 * fields (parseEvent is the reference); times in epoch ms (`timestamp`, else `originalTimestamp`).
 */
function loadEventsSql(eventsPath: string): string {
  return `CREATE TABLE msg AS SELECT *,
      coalesce(type IN ('track', 'identify', 'group', 'page', 'screen', 'alias')
        AND has_message_id AND t IS NOT NULL
        AND (uid IS NOT NULL OR aid IS NOT NULL)
        AND (type <> 'track' OR name IS NOT NULL)
        AND (type <> 'group' OR gid IS NOT NULL)
        AND (type <> 'alias' OR (pid IS NOT NULL AND uid IS NOT NULL)), false) AS valid
    FROM (SELECT
      type,
      epoch_ms(coalesce(timestamp, originalTimestamp))::DOUBLE AS t,
      ${id('messageId')} IS NOT NULL AS has_message_id,
      ${id('userId')} AS uid,
      ${id('anonymousId')} AS aid,
      ${id('previousId')} AS pid,
      ${id('groupId')} AS gid,
      ${id('context.groupId')} AS cg,
      ${id("CASE type WHEN 'track' THEN event WHEN 'page' THEN name WHEN 'screen' THEN name END")} AS name,
      coalesce(traitsOnly, false) AS traits_only,
      CASE WHEN type = 'group' THEN traits.created_at END AS created_at,
      ${id('traits.crm_company_id')} AS crm,
      ${id('coalesce(traits.domain, traits.website)')} AS domain
    FROM read_json(${sqlString(eventsPath)}, format = 'newline_delimited', columns = {
      type: 'VARCHAR', messageId: 'VARCHAR', timestamp: 'TIMESTAMPTZ', originalTimestamp: 'TIMESTAMPTZ',
      userId: 'VARCHAR', anonymousId: 'VARCHAR', previousId: 'VARCHAR', groupId: 'VARCHAR',
      event: 'VARCHAR', name: 'VARCHAR', traitsOnly: 'BOOLEAN',
      context: 'STRUCT(groupId VARCHAR)',
      traits: 'STRUCT(created_at VARCHAR, crm_company_id VARCHAR, domain VARCHAR, website VARCHAR)'
    }))`;
}

/**
 * The steps after loading, each one statement. Tables: `link` (id → canonical user), `usr` (sender →
 * integer user), `acct` (account → integer), `member` (user joined account at t), `feature`, `ev` (every
 * attributable event as type, t, user, feature, created_at, account), `account_span`, `account_keys`.
 */
const STEPS: readonly string[] = [
  // Join keys for the CRM and billing: every account named by a valid message, latest keys by time.
  `CREATE TABLE account_keys AS SELECT account,
      arg_max(crm, t) FILTER (WHERE type = 'group' AND crm IS NOT NULL) AS crm,
      arg_max(domain, t) FILTER (WHERE type = 'group' AND domain IS NOT NULL) AS domain
    FROM (SELECT CASE WHEN type = 'group' THEN gid ELSE cg END AS account, type, crm, domain, t FROM msg WHERE valid)
    WHERE account IS NOT NULL GROUP BY account`,
  // Links: an alias's previous id, and an anonymous id sent with a user id; the earliest link of an id wins.
  `CREATE TABLE link AS SELECT src, arg_min(dst, t) AS dst FROM (
      SELECT pid AS src, uid AS dst, t FROM msg WHERE valid AND type = 'alias'
      UNION ALL
      SELECT aid, uid, t FROM msg WHERE valid AND aid IS NOT NULL AND uid IS NOT NULL
    ) WHERE src <> dst GROUP BY src`,
  // Chains (a → b, b → c) end at their last user. Links left in a cycle (a → b and b → a, which the
  // streaming resolver settles by arrival: the later one is ignored) are dropped: both ids stay users.
  ...Array.from(
    { length: 8 },
    () => `UPDATE link SET dst = l2.dst FROM link l2 WHERE link.dst = l2.src AND l2.dst <> link.src`,
  ),
  `DELETE FROM link WHERE dst IN (SELECT src FROM link)`,
  `CREATE TABLE usr AS SELECT s.sender, dense_rank() OVER (ORDER BY coalesce(l.dst, s.sender))::INTEGER AS u
    FROM (SELECT DISTINCT coalesce(uid, aid) AS sender FROM msg WHERE valid) s LEFT JOIN link l ON l.src = s.sender`,
  `CREATE TABLE acct AS SELECT account, (row_number() OVER (ORDER BY account) - 1)::INTEGER AS a FROM (
      SELECT DISTINCT CASE WHEN type = 'group' THEN gid ELSE cg END AS account FROM msg WHERE valid
    ) WHERE account IS NOT NULL`,
  `CREATE TABLE member AS SELECT u.u, a.a, m.t FROM msg m
      JOIN usr u ON u.sender = coalesce(m.uid, m.aid) JOIN acct a ON a.account = m.gid
    WHERE m.valid AND m.type = 'group' AND NOT m.traits_only`,
  `CREATE TABLE first_member AS SELECT u, arg_min(a, t) AS a FROM member GROUP BY u`,
  `CREATE TABLE feature AS SELECT type, name,
      (CASE type WHEN 'track' THEN 'event' ELSE type END) || ':' || name AS key,
      (row_number() OVER (ORDER BY type, name) - 1)::INTEGER AS f
    FROM (SELECT DISTINCT type, name FROM msg WHERE valid AND name IS NOT NULL)`,
  // Every valid event but aliases with its user, account (NULL: the user never joined one) and feature.
  `CREATE TABLE ev AS
    WITH e AS (
      SELECT m.t, u.u, f.f, CASE WHEN m.type = 'group' THEN m.gid ELSE m.cg END AS account
      FROM msg m JOIN usr u ON u.sender = coalesce(m.uid, m.aid)
        LEFT JOIN feature f ON f.type = m.type AND f.name = m.name
      WHERE m.valid AND m.type <> 'alias')
    SELECT e.t, e.u, e.f, a.a FROM e JOIN acct a ON a.account = e.account
    UNION ALL
    SELECT x.t, x.u, x.f, coalesce(x.asof_a, fm.a) AS a FROM (
      SELECT e.t, e.u, e.f, m.a AS asof_a FROM (SELECT * FROM e WHERE account IS NULL) e
        ASOF LEFT JOIN member m ON e.u = m.u AND e.t >= m.t
    ) x LEFT JOIN first_member fm ON fm.u = x.u`,
  // Sign-up: the created_at of the first group call that has one (an ISO time or epoch ms), else the
  // earliest event.
  `CREATE TABLE created AS SELECT a.a, arg_min(c.created, c.t) AS created FROM (
      SELECT gid, t, CASE WHEN regexp_full_match(created_at, '-?[0-9]+(\\.[0-9]+)?') THEN floor(created_at::DOUBLE)
                          ELSE epoch_ms(try_cast(created_at AS TIMESTAMPTZ))::DOUBLE END AS created
      FROM msg WHERE valid AND type = 'group' AND created_at IS NOT NULL
    ) c JOIN acct a ON a.account = c.gid WHERE c.created IS NOT NULL GROUP BY a.a`,
  `CREATE TABLE account_span AS SELECT s.*, c.created, coalesce(c.created, s.first_seen) AS signup FROM (
      SELECT a.a, a.account, min(e.t) AS first_seen, max(e.t) AS last_seen, count(e.f) AS behaviour
      FROM ev e JOIN acct a ON a.a = e.a GROUP BY a.a, a.account
    ) s LEFT JOIN created c ON c.a = s.a`,
];
