import { eventStreamTopology, type EventStreamTopology } from './event-stream.js';
import { parsePartitionCount } from './partitioning.js';

/** Scale-out settings: where NATS is and how the stream is laid out. */
export interface StreamConfig {
  /** NATS server URL(s), comma-separated in `PQL_NATS_URL` (default `nats://127.0.0.1:4222`). */
  readonly servers: readonly string[];
  readonly topology: EventStreamTopology;
}

/** Thrown when a scale-out setting is unusable, naming the variable. */
export class StreamConfigError extends Error {
  /** Creates the error for environment variable `variable`. */
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'StreamConfigError';
  }
}

const NAME = /^[A-Za-z0-9_-]+$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/**
 * Reads PQL_NATS_URL, PQL_PARTITIONS (P, default 16), PQL_STREAM (default `PQL_EVENTS`),
 * PQL_SUBJECT_PREFIX (default `pql`), PQL_DUPLICATE_WINDOW_MS (default 24 h) and PQL_STREAM_MAX_AGE_MS
 * (default 0: keep everything). Every node of a deployment must agree on all of them.
 */
export function streamConfigFromEnv(env: Readonly<Record<string, string | undefined>>): StreamConfig {
  const servers = (env['PQL_NATS_URL'] ?? 'nats://127.0.0.1:4222')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (servers.length === 0) throw new StreamConfigError('PQL_NATS_URL', 'expected a nats:// URL');
  let partitions: number;
  try {
    partitions = parsePartitionCount(env['PQL_PARTITIONS'], 'PQL_PARTITIONS');
  } catch (error) {
    throw new StreamConfigError('PQL_PARTITIONS', (error as Error).message.replace(/^PQL_PARTITIONS: /, ''));
  }
  const stream = env['PQL_STREAM'] ?? 'PQL_EVENTS';
  if (!NAME.test(stream)) {
    throw new StreamConfigError(
      'PQL_STREAM',
      `expected letters, digits, _ and -, got ${JSON.stringify(stream)}`,
    );
  }
  const subjectPrefix = env['PQL_SUBJECT_PREFIX'] ?? 'pql';
  if (!PREFIX.test(subjectPrefix)) {
    throw new StreamConfigError(
      'PQL_SUBJECT_PREFIX',
      `expected dot-separated tokens of letters, digits, _ and -, got ${JSON.stringify(subjectPrefix)}`,
    );
  }
  return {
    servers,
    topology: eventStreamTopology({
      stream,
      subjectPrefix,
      partitions,
      duplicateWindowMs: milliseconds(env, 'PQL_DUPLICATE_WINDOW_MS', 86_400_000),
      maxAgeMs: milliseconds(env, 'PQL_STREAM_MAX_AGE_MS', 0),
    }),
  };
}

function milliseconds(
  env: Readonly<Record<string, string | undefined>>,
  variable: string,
  fallback: number,
): number {
  const raw = env[variable];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new StreamConfigError(
      variable,
      `expected a whole number of milliseconds, got ${JSON.stringify(raw)}`,
    );
  }
  return n;
}
