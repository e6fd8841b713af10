import type Database from 'better-sqlite3';
import type { AlertOutcome, AlertRecord, AlertStatus, NewAlert } from '../store.js';

/** Schema of the alert outbox (store schema version 2). */
export const OUTBOX_MIGRATION = `
  CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    pql_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead', 'disabled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    last_error TEXT,
    claimed_by TEXT,
    claim_until INTEGER,
    possible_duplicate INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX alerts_due ON alerts (status, next_attempt_at);
`;

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
  possible_duplicate: number;
}

function toRecord(row: AlertRow): AlertRecord {
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
    possibleDuplicate: row.possible_duplicate === 1,
  };
}

/** The outbox's SQL, prepared once per store. */
export class SqliteOutbox {
  private readonly insert;
  private readonly claim;
  private readonly complete;
  private readonly list;
  private readonly listByStatus;
  private readonly get;
  private readonly retry;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare(
      `INSERT OR IGNORE INTO alerts (id, pql_id, channel, target, payload, status, next_attempt_at, created_at)
       VALUES (@id, @pqlId, @channel, @target, @payload, 'pending', @createdAt, @createdAt)`,
    );
    // A lease that ran out means the worker died between claiming and completing: the send may have
    // happened, so the next attempt is flagged as a possible duplicate.
    this.claim = db.prepare(
      `UPDATE alerts SET claimed_by = @workerId, claim_until = @until, attempts = attempts + 1,
         possible_duplicate = possible_duplicate OR (claim_until IS NOT NULL)
       WHERE id IN (SELECT id FROM alerts WHERE status = 'pending' AND next_attempt_at <= @now
                      AND (claim_until IS NULL OR claim_until < @now)
                    ORDER BY next_attempt_at LIMIT @limit)
       RETURNING *`,
    );
    this.complete = db.prepare(
      `UPDATE alerts SET status = @status, next_attempt_at = coalesce(@next, next_attempt_at),
         delivered_at = coalesce(@deliveredAt, delivered_at), last_error = coalesce(@error, last_error),
         attempts = attempts - @uncount, claimed_by = NULL, claim_until = NULL
       WHERE id = @id AND claimed_by = @workerId`,
    );
    this.list = db.prepare('SELECT * FROM alerts ORDER BY created_at DESC, id LIMIT ?');
    this.listByStatus = db.prepare(
      'SELECT * FROM alerts WHERE status = ? ORDER BY created_at DESC, id LIMIT ?',
    );
    this.get = db.prepare('SELECT * FROM alerts WHERE id = ?');
    this.retry = db.prepare(
      `UPDATE alerts SET status = 'pending', next_attempt_at = ?, claimed_by = NULL, claim_until = NULL
       WHERE id = ? AND status IN ('dead', 'disabled')`,
    );
  }

  /** Inserts alerts for PQLs created in the current transaction (pqlIds[i] for transition i). */
  enqueue(alerts: readonly NewAlert[], pqlIds: readonly (string | undefined)[], createdAt: number): void {
    for (const alert of alerts) {
      const pqlId = pqlIds[alert.transitionIndex];
      if (pqlId === undefined) continue; // the transition created no PQL (a replayed one): no alert
      this.insert.run({
        id: `${pqlId}/${alert.channel}`,
        pqlId,
        channel: alert.channel,
        target: alert.target,
        payload: JSON.stringify(alert.payload),
        createdAt,
      });
    }
  }

  claimDue(workerId: string, now: number, limit: number, leaseMs: number): AlertRecord[] {
    return (this.claim.all({ workerId, now, limit, until: now + leaseMs }) as AlertRow[]).map(toRecord);
  }

  finish(id: string, workerId: string, outcome: AlertOutcome): void {
    const base = { id, workerId, next: null, deliveredAt: null, error: null, uncount: 0 };
    switch (outcome.kind) {
      case 'delivered':
        this.complete.run({ ...base, status: 'delivered', deliveredAt: outcome.at });
        return;
      case 'retry':
        this.complete.run({ ...base, status: 'pending', next: outcome.at, error: outcome.error });
        return;
      case 'deferred':
        this.complete.run({ ...base, status: 'pending', next: outcome.at, uncount: 1 });
        return;
      case 'dead':
        this.complete.run({ ...base, status: 'dead', error: outcome.error });
        return;
      case 'disabled':
        this.complete.run({ ...base, status: 'disabled', error: outcome.error });
        return;
    }
  }

  all(status: AlertStatus | undefined, limit: number): AlertRecord[] {
    const rows = status === undefined ? this.list.all(limit) : this.listByStatus.all(status, limit);
    return (rows as AlertRow[]).map(toRecord);
  }

  one(id: string): AlertRecord | undefined {
    const row = this.get.get(id) as AlertRow | undefined;
    return row === undefined ? undefined : toRecord(row);
  }

  requeue(id: string, now: number): boolean {
    return this.retry.run(now, id).changes > 0;
  }
}
