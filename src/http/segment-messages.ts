import type { ProductEvent } from '../core/events/event.js';
import { parseEvent, parseTimestamp } from '../core/events/parse-event.js';
import {
  checkMessageShape,
  correctedTimestamp,
  deriveMessageId,
  futureIssue,
  isRecord,
  rejectionsOf,
  type AcceptContext,
  type Rejection,
} from './message-checks.js';

/** Batch-level fields of a Segment request that apply to each of its messages. */
export interface SegmentBatchFields {
  /** The type the endpoint implies (`/v1/track` → track); undefined for `/v1/batch`. */
  readonly type: string | undefined;
  readonly context: unknown;
  readonly sentAt: unknown;
}

/** The outcome of one message: the parsed event, or why it was rejected. */
export type AcceptedMessage =
  | { readonly ok: true; readonly event: ProductEvent }
  | { readonly ok: false; readonly rejections: readonly Rejection[] };

/**
 * Normalizes and parses one Segment message: endpoint type, batch `context` merged under the message's
 * own, clock-skew correction, a derived messageId when it has none, and the 24 h future limit.
 */
export function acceptSegmentMessage(
  raw: unknown,
  index: number,
  batch: SegmentBatchFields,
  context: AcceptContext,
): AcceptedMessage {
  const shape = checkMessageShape(raw, context);
  if (shape !== undefined) return { ok: false, rejections: rejectionsOf(index, [shape]) };
  if (!isRecord(raw)) {
    return {
      ok: false,
      rejections: [{ index, code: 'invalid_type', path: '', message: 'expected a JSON object' }],
    };
  }
  const message: Record<string, unknown> = { ...raw };
  if (batch.type !== undefined) message['type'] = batch.type;
  if (isRecord(batch.context)) {
    message['context'] = isRecord(raw['context']) ? { ...batch.context, ...raw['context'] } : batch.context;
  }
  // The id is derived before the time is corrected: a retry has another sentAt but the same message.
  const hasId = raw['messageId'] !== undefined && raw['messageId'] !== null && raw['messageId'] !== '';
  const identity = hasId ? message : { ...message };
  const rawTime = raw['timestamp'] ?? raw['originalTimestamp'];
  const timePath =
    raw['timestamp'] !== undefined && raw['timestamp'] !== null ? 'timestamp' : 'originalTimestamp';
  const corrected = correctedTimestamp(
    rawTime,
    raw['sentAt'] ?? batch.sentAt,
    context.receivedAt,
    'sentAt',
    parseTimestamp,
  );
  if (corrected.issue !== undefined) return { ok: false, rejections: rejectionsOf(index, [corrected.issue]) };
  if (corrected.timestamp !== undefined) {
    message['timestamp'] = corrected.timestamp;
    delete message['originalTimestamp'];
  }
  const parsed = parseEvent(message, {
    defaultTimestamp: context.receivedAt,
    deriveMessageId: () => deriveMessageId(context.writeKey, identity),
  });
  if (!parsed.ok) return { ok: false, rejections: rejectionsOf(index, parsed.issues) };
  const future = futureIssue(parsed.value.timestamp, context, timePath);
  if (future !== undefined) return { ok: false, rejections: rejectionsOf(index, [future]) };
  return { ok: true, event: parsed.value };
}
