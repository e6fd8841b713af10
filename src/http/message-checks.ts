import { createHash } from 'node:crypto';
import type { Issue } from '../core/issues.js';
import { createIssue } from '../core/issues.js';

/** A message that could not be accepted, with its place in the request (0 for a single-message call). */
export interface Rejection {
  readonly index: number;
  readonly code: string;
  readonly path: string;
  readonly message: string;
}

/** Turns parse issues into rejections of message `index`. */
export function rejectionsOf(index: number, issues: readonly Issue[]): Rejection[] {
  return issues.map((issue) => ({ index, code: issue.code, path: issue.path, message: issue.message }));
}

/** True when a JSON value nests objects/arrays deeper than `maxDepth`; iterative, so any depth is safe. */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, depth } = stack.pop() as { value: unknown; depth: number };
    if (typeof current !== 'object' || current === null) continue;
    if (depth >= maxDepth) return true;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: depth + 1 });
    }
  }
  return false;
}

/**
 * The deepest nesting of objects and arrays in JSON text, by one pass over the bytes (brackets inside
 * strings do not count). Lets a request whose whole body is shallow skip the per-message depth walk.
 */
export function jsonDepth(body: Uint8Array): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as number;
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

/** Checks one message's nesting and size; undefined when it may go on to parsing. */
export function checkMessageShape(
  message: unknown,
  limits: {
    readonly maxDepth: number;
    readonly maxMessageBytes: number;
    /** Set when the whole request body is known to be within both limits, so no message can exceed them. */
    readonly withinLimits?: boolean;
  },
): Issue | undefined {
  if (limits.withinLimits === true) return undefined;
  if (exceedsDepth(message, limits.maxDepth)) {
    return createIssue('', 'too_deep', `nesting deeper than ${limits.maxDepth} levels`);
  }
  const bytes = Buffer.byteLength(JSON.stringify(message) ?? '');
  if (bytes > limits.maxMessageBytes) {
    return createIssue(
      '',
      'message_too_large',
      `message is ${bytes} bytes; at most ${limits.maxMessageBytes} bytes (${Math.round(limits.maxMessageBytes / 1024)} KB) per message`,
    );
  }
  return undefined;
}

/** JSON with object keys sorted at every level, so equal messages give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  const parts: string[] = [];
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

/** Fields that change between a client's retries of the same message, left out of a derived id. */
const VOLATILE_FIELDS = new Set(['sentAt', 'sent_at', 'receivedAt', 'writeKey', 'api_key', 'offset']);

/**
 * A deterministic messageId for a message sent without one: a hash of the write key and the canonical
 * message (minus fields that change between retries), so a client's retry is still a duplicate.
 */
export function deriveMessageId(writeKey: string, message: Readonly<Record<string, unknown>>): string {
  const stable: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(message)) if (!VOLATILE_FIELDS.has(key)) stable[key] = value;
  const hash = createHash('sha256').update(writeKey).update('\n').update(canonicalJson(stable)).digest('hex');
  return `pql-${hash.slice(0, 32)}`;
}

/** True for a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Limits and context under which the messages of one request are accepted. */
export interface AcceptContext {
  readonly writeKey: string;
  /** Wall-clock receipt time of the request, epoch ms. */
  readonly receivedAt: number;
  readonly maxFutureMs: number;
  readonly maxDepth: number;
  readonly maxMessageBytes: number;
  /** True when the whole body is no larger than maxMessageBytes and no deeper than maxDepth. */
  readonly withinLimits?: boolean;
}

/**
 * Clock-skew correction as Segment does it: `receivedAt - (sentAt - timestamp)`, so a device whose clock
 * is off by an hour still reports the right time. Returns the event time, or an issue when `sentAt` is bad;
 * undefined when the message carries no usable time (the parser then reports or defaults it).
 */
export function correctedTimestamp(
  rawTimestamp: unknown,
  rawSentAt: unknown,
  receivedAt: number,
  sentAtPath: string,
  parse: (value: unknown) => number | undefined,
): { readonly timestamp: number | undefined; readonly issue?: Issue } {
  if (rawTimestamp === undefined || rawTimestamp === null) return { timestamp: undefined };
  const timestamp = parse(rawTimestamp);
  if (timestamp === undefined || rawSentAt === undefined || rawSentAt === null) return { timestamp };
  const sentAt = parse(rawSentAt);
  if (sentAt === undefined) {
    return {
      timestamp,
      issue: createIssue(
        sentAtPath,
        'invalid_timestamp',
        `expected an ISO-8601 time with a zone or epoch milliseconds, got ${JSON.stringify(rawSentAt)?.slice(0, 60)}`,
      ),
    };
  }
  return { timestamp: receivedAt - (sentAt - timestamp) };
}

/** The issue of an event time too far after receipt, or undefined. */
export function futureIssue(timestamp: number, context: AcceptContext, path: string): Issue | undefined {
  if (timestamp <= context.receivedAt + context.maxFutureMs) return undefined;
  return createIssue(
    path,
    'timestamp_in_future',
    `event time ${new Date(timestamp).toISOString()} is more than ${Math.round(context.maxFutureMs / 3_600_000)} h after it was received (${new Date(context.receivedAt).toISOString()})`,
  );
}
