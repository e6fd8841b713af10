import type { StoredEvent } from '../store/store.js';
import { isRecord } from './message-checks.js';

/** Most recent events an account's activity lists (its per-day activity counts every event). */
const RECENT_EVENTS = 50;

/** An account's activity: events per UTC day, the most recent ones, and how many there are. */
export interface AccountActivity {
  readonly days: { day: string; events: number }[];
  readonly recent: Record<string, unknown>[];
  readonly events: number;
}

/**
 * An account's activity from the event log: events per UTC day and the most recent ones. It scans the log
 * (events are attributed by account id, or by a member's user id for messages without one).
 */
export async function accountActivity(
  batches: AsyncIterable<readonly StoredEvent[]>,
  accountId: string,
  members: ReadonlySet<string>,
): Promise<AccountActivity> {
  const perDay = new Map<string, number>();
  let recent: StoredEvent[] = [];
  let events = 0;
  for await (const batch of batches) {
    for (const e of batch) {
      const mine =
        e.accountId === accountId ||
        (e.accountId === undefined && e.userId !== undefined && members.has(e.userId));
      if (!mine) continue;
      events++;
      const day = new Date(e.timestamp).toISOString().slice(0, 10);
      perDay.set(day, (perDay.get(day) ?? 0) + 1);
      recent.push(e);
      if (recent.length > RECENT_EVENTS * 4) recent = latestEvents(recent);
    }
  }
  return {
    events,
    days: [...perDay].sort(([a], [b]) => a.localeCompare(b)).map(([day, n]) => ({ day, events: n })),
    recent: latestEvents(recent).map((e) => {
      const body = parseBody(e.body);
      return {
        messageId: e.messageId,
        type: e.type,
        event: stringOrUndefined(body['event']) ?? stringOrUndefined(body['name']) ?? null,
        userId: e.userId ?? null,
        timestamp: iso(e.timestamp),
      };
    }),
  };
}

function latestEvents(events: readonly StoredEvent[]): StoredEvent[] {
  return [...events].sort((a, b) => b.timestamp - a.timestamp || b.seq - a.seq).slice(0, RECENT_EVENTS);
}

function parseBody(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body);
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
