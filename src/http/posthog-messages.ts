import { parseEvent, parseTimestamp } from '../core/events/parse-event.js';
import { createIssue } from '../core/issues.js';
import {
  checkMessageShape,
  correctedTimestamp,
  deriveMessageId,
  futureIssue,
  isRecord,
  rejectionsOf,
  type AcceptContext,
} from './message-checks.js';
import type { AcceptedMessage } from './segment-messages.js';

/** PostHog options that shape the mapping. */
export interface PosthogMapping {
  /** Group type whose key is the account (`$groups[type]`); undefined takes the first group given. */
  readonly groupType: string | undefined;
}

/**
 * Maps one PostHog capture event to a Segment-spec message and parses it: `distinct_id` is the user,
 * `$groups` the account (context.groupId), `$identify` an identify with `$set` as traits, `$groupidentify`
 * account traits only (no membership), `$pageview` a page, `$screen` a screen, anything else a track.
 */
export function acceptPosthogEvent(
  raw: unknown,
  index: number,
  batchSentAt: unknown,
  mapping: PosthogMapping,
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
  const name = raw['event'];
  if (typeof name !== 'string' || name === '') {
    return {
      ok: false,
      rejections: rejectionsOf(index, [
        createIssue(
          'event',
          name === undefined || name === null || name === '' ? 'required' : 'invalid_type',
          'required: the event name (a non-empty string)',
        ),
      ]),
    };
  }
  const properties = isRecord(raw['properties']) ? raw['properties'] : {};
  const distinctId = raw['distinct_id'] ?? properties['distinct_id'] ?? raw['$distinct_id'];
  const groups = isRecord(properties['$groups'])
    ? properties['$groups']
    : isRecord(raw['$groups'])
      ? raw['$groups']
      : undefined;
  const groupId = groups === undefined ? undefined : pickGroup(groups, mapping.groupType);

  const message: Record<string, unknown> = { userId: distinctId };
  if (raw['uuid'] !== undefined) message['messageId'] = raw['uuid'];
  if (groupId !== undefined) message['context'] = { groupId };
  switch (name) {
    case '$identify':
      message['type'] = 'identify';
      message['traits'] = isRecord(properties['$set'])
        ? properties['$set']
        : isRecord(raw['$set'])
          ? raw['$set']
          : {};
      break;
    case '$groupidentify':
      message['type'] = 'group';
      message['groupId'] = properties['$group_key'];
      message['traits'] = isRecord(properties['$group_set']) ? properties['$group_set'] : {};
      message['traitsOnly'] = true;
      delete message['context'];
      break;
    case '$pageview':
      message['type'] = 'page';
      message['name'] =
        stringOrUndefined(properties['$pathname']) ?? stringOrUndefined(properties['$current_url']);
      message['properties'] = properties;
      break;
    case '$screen':
      message['type'] = 'screen';
      message['name'] = stringOrUndefined(properties['$screen_name']);
      message['properties'] = properties;
      break;
    default:
      message['type'] = 'track';
      message['event'] = name;
      message['properties'] = properties;
  }

  let timestamp: number | undefined;
  const timePath = 'timestamp';
  if (raw['timestamp'] !== undefined && raw['timestamp'] !== null) {
    const corrected = correctedTimestamp(
      raw['timestamp'],
      raw['sent_at'] ?? batchSentAt,
      context.receivedAt,
      'sent_at',
      parseTimestamp,
    );
    if (corrected.issue !== undefined)
      return { ok: false, rejections: rejectionsOf(index, [corrected.issue]) };
    timestamp = corrected.timestamp;
    message['timestamp'] = timestamp ?? raw['timestamp'];
  } else if (typeof raw['offset'] === 'number' && Number.isFinite(raw['offset'])) {
    // posthog-js sends how long ago the event happened instead of a time.
    message['timestamp'] = context.receivedAt - raw['offset'];
  }
  const identity = { ...raw };
  const parsed = parseEvent(message, {
    defaultTimestamp: context.receivedAt,
    deriveMessageId: () => deriveMessageId(context.writeKey, identity),
  });
  if (!parsed.ok) {
    const issues = parsed.issues.map((issue) =>
      issue.path === 'userId'
        ? { ...issue, path: 'distinct_id', message: 'required: the distinct_id of the person' }
        : issue.path === 'groupId'
          ? { ...issue, path: 'properties.$group_key' }
          : issue.path === 'messageId'
            ? { ...issue, path: 'uuid' }
            : issue,
    );
    return { ok: false, rejections: rejectionsOf(index, issues) };
  }
  const future = futureIssue(parsed.value.timestamp, context, timePath);
  if (future !== undefined) return { ok: false, rejections: rejectionsOf(index, [future]) };
  return { ok: true, event: parsed.value };
}

function pickGroup(groups: Record<string, unknown>, groupType: string | undefined): string | undefined {
  const value = groupType === undefined ? Object.values(groups)[0] : groups[groupType];
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
