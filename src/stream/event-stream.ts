import {
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

/** The JetStream layout of one deployment: stream, subjects, partition count, dedupe window. */
export interface EventStreamTopology {
  /** Stream name (default `PQL_EVENTS`); letters, digits, `_` and `-`. */
  readonly stream: string;
  /** Subject prefix (default `pql`): user partitions are `<prefix>.user.<p>`, account ones `<prefix>.acct.<p>`. */
  readonly subjectPrefix: string;
  /** P: user and account partitions each (default 16). */
  readonly partitions: number;
  /** How long JetStream remembers a `Nats-Msg-Id` to drop a repeat (default 24 h, Segment's retry horizon). */
  readonly duplicateWindowMs: number;
  /** How long messages are kept (0 = until removed by an operator); a takeover replays what is kept. */
  readonly maxAgeMs: number;
}

/** The topology with defaults filled in. */
export function eventStreamTopology(partial: Partial<EventStreamTopology> = {}): EventStreamTopology {
  return {
    stream: partial.stream ?? 'PQL_EVENTS',
    subjectPrefix: partial.subjectPrefix ?? 'pql',
    partitions: partial.partitions ?? 16,
    duplicateWindowMs: partial.duplicateWindowMs ?? 86_400_000,
    maxAgeMs: partial.maxAgeMs ?? 0,
  };
}

/** The subject of user partition `p`. */
export function userSubject(topology: EventStreamTopology, p: number): string {
  return `${topology.subjectPrefix}.user.${p}`;
}

/** The subject of account partition `p`. */
export function accountSubject(topology: EventStreamTopology, p: number): string {
  return `${topology.subjectPrefix}.acct.${p}`;
}

const NANOS_PER_MS = 1_000_000;

/**
 * The stream of account partitions: republished events and the user partitions' marks. Apart from the
 * ingested events' stream, so a user-stream sequence number is the ingest arrival order and marks do not
 * move it.
 */
export function accountStreamName(topology: EventStreamTopology): string {
  return `${topology.stream}_ACCT`;
}

/**
 * Creates the two streams if they are missing (file storage, limits retention) or updates their dedupe
 * window and age limit: `stream` holds the ingested events on user subjects, `<stream>_ACCT` the account
 * subjects. Partition subjects are wildcards, so P can grow without touching the streams (but moving P
 * re-homes users and accounts: see docs/scale-out.md).
 */
export async function ensureEventStream(
  connection: NatsConnection,
  topology: EventStreamTopology,
): Promise<JetStreamManager> {
  const jsm = await jetstreamManager(connection);
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    duplicate_window: topology.duplicateWindowMs * NANOS_PER_MS,
    max_age: topology.maxAgeMs * NANOS_PER_MS,
  };
  await ensureStream(jsm, {
    name: topology.stream,
    subjects: [`${topology.subjectPrefix}.user.*`],
    ...common,
  });
  await ensureStream(jsm, {
    name: accountStreamName(topology),
    subjects: [`${topology.subjectPrefix}.acct.*`],
    ...common,
  });
  return jsm;
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, config);
  } catch (error) {
    if (!isStreamNotFound(error)) throw error;
    try {
      await jsm.streams.add(config);
    } catch (raced) {
      // Another node created it meanwhile: fine when it now exists.
      await jsm.streams.info(config.name).catch(() => {
        throw raced;
      });
    }
  }
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof Error && /stream not found/i.test(error.message);
}
