import type { Issue, Parsed } from '../issues.js';
import { createIssue } from '../issues.js';
import type {
  AliasEvent,
  EventType,
  GroupEvent,
  IdentifyEvent,
  PageEvent,
  ProductEvent,
  Properties,
  TrackEvent,
} from './event.js';

/** Options of `parseEvent`: fallbacks for the fields a source may leave out. */
export interface ParseEventOptions {
  /** Event time to use when the message has neither `timestamp` nor `originalTimestamp` (e.g. receive time). */
  readonly defaultTimestamp?: number;
  /** Derives a `messageId` for a message without one (the HTTP layer hashes the body); else it is an issue. */
  readonly deriveMessageId?: (message: Readonly<Record<string, unknown>>) => string;
}

/** Stable issue codes of event parsing; see docs/events.md. */
export type EventIssueCode =
  'invalid_json' | 'invalid_type' | 'required' | 'unknown_type' | 'invalid_timestamp';

/** Earliest event time accepted (0000-01-01T00:00:00.000Z), so every time has a 4-digit-year ISO form. */
export const MIN_EVENT_TIME = -62_167_219_200_000;
/** Latest event time accepted (9999-12-31T23:59:59.999Z). */
export const MAX_EVENT_TIME = 253_402_300_799_999;

const EMPTY: Properties = Object.freeze({});

const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>([
  'track',
  'identify',
  'group',
  'page',
  'screen',
  'alias',
]);

/**
 * Parses one Segment-spec message (already JSON-decoded) into a `ProductEvent`, or every issue found in it;
 * nested `properties`/`traits` objects are shared with the input, not copied.
 */
export function parseEvent(input: unknown, options?: ParseEventOptions): Parsed<ProductEvent> {
  if (!isObject(input)) {
    return fail([createIssue('', 'invalid_type', `expected a JSON object, got ${describe(input)}`)]);
  }
  const message = input;
  let issues: Issue[] | undefined;

  // type
  const rawType = message['type'];
  let type: EventType | undefined;
  if (rawType === undefined || rawType === null) {
    issues = add(issues, 'type', 'required', 'required: one of track, identify, group, page, screen, alias');
  } else if (typeof rawType !== 'string') {
    issues = add(issues, 'type', 'invalid_type', `expected a string, got ${describe(rawType)}`);
  } else if (!EVENT_TYPES.has(rawType)) {
    issues = add(
      issues,
      'type',
      'unknown_type',
      `expected one of track, identify, group, page, screen, alias, got ${describe(rawType)}`,
    );
  } else {
    type = rawType as EventType;
  }

  // messageId
  let messageId = readId(message['messageId']);
  if (messageId === null) {
    issues = add(
      issues,
      'messageId',
      'invalid_type',
      `expected a string, got ${describe(message['messageId'])}`,
    );
  } else if (messageId === undefined) {
    const derive = options?.deriveMessageId;
    if (derive !== undefined) messageId = derive(message);
    if (messageId === undefined || messageId === '') {
      issues = add(issues, 'messageId', 'required', 'required: a unique id of the message');
    }
  }

  // userId / anonymousId (numbers are coerced to strings, as Segment does)
  const userId = readId(message['userId']);
  if (userId === null) issues = add(issues, 'userId', 'invalid_type', idTypeMessage(message['userId']));
  const anonymousId = readId(message['anonymousId']);
  if (anonymousId === null) {
    issues = add(issues, 'anonymousId', 'invalid_type', idTypeMessage(message['anonymousId']));
  }
  if (type === 'alias') {
    if (userId === undefined) issues = add(issues, 'userId', 'required', 'required: alias needs a userId');
  } else if (userId === undefined && anonymousId === undefined) {
    issues = add(issues, 'userId', 'required', 'required: a userId or an anonymousId');
  }

  // timestamp → originalTimestamp → options.defaultTimestamp
  let timestamp: number | undefined;
  const rawTimestamp = message['timestamp'];
  const rawOriginal = message['originalTimestamp'];
  if (rawTimestamp !== undefined && rawTimestamp !== null) {
    timestamp = parseTimestamp(rawTimestamp);
    if (timestamp === undefined)
      issues = add(issues, 'timestamp', 'invalid_timestamp', timeMessage(rawTimestamp));
  } else if (rawOriginal !== undefined && rawOriginal !== null) {
    timestamp = parseTimestamp(rawOriginal);
    if (timestamp === undefined) {
      issues = add(issues, 'originalTimestamp', 'invalid_timestamp', timeMessage(rawOriginal));
    }
  } else if (options?.defaultTimestamp !== undefined) {
    timestamp = options.defaultTimestamp;
  } else {
    issues = add(issues, 'timestamp', 'required', 'required: an ISO-8601 time or epoch milliseconds');
  }

  // context.groupId
  let contextGroupId: string | undefined;
  const context = message['context'];
  if (context !== undefined && context !== null) {
    if (!isObject(context)) {
      issues = add(issues, 'context', 'invalid_type', `expected an object, got ${describe(context)}`);
    } else {
      const groupId = readId(context['groupId']);
      if (groupId === null) {
        issues = add(issues, 'context.groupId', 'invalid_type', idTypeMessage(context['groupId']));
      } else {
        contextGroupId = groupId;
      }
    }
  }

  // type-specific fields
  let event: string | undefined;
  let name: string | undefined;
  let groupId: string | undefined;
  let previousId: string | undefined;
  let traitsOnly = false;
  let bag: Properties = EMPTY;
  switch (type) {
    case 'track': {
      const rawEvent = message['event'];
      if (typeof rawEvent === 'string' && rawEvent !== '') event = rawEvent;
      else if (rawEvent === undefined || rawEvent === null || rawEvent === '') {
        issues = add(issues, 'event', 'required', 'required: the name of the tracked event');
      } else issues = add(issues, 'event', 'invalid_type', `expected a string, got ${describe(rawEvent)}`);
      const read = readObject(message, 'properties');
      if (read === null)
        issues = add(issues, 'properties', 'invalid_type', objectMessage(message['properties']));
      else bag = read;
      break;
    }
    case 'page':
    case 'screen': {
      const read = readObject(message, 'properties');
      if (read === null)
        issues = add(issues, 'properties', 'invalid_type', objectMessage(message['properties']));
      else bag = read;
      const rawName = message['name'];
      if (typeof rawName === 'string') name = rawName;
      else if (rawName !== undefined && rawName !== null) {
        issues = add(issues, 'name', 'invalid_type', `expected a string, got ${describe(rawName)}`);
      } else {
        const fromProperties = bag['name'];
        if (typeof fromProperties === 'string') name = fromProperties;
      }
      break;
    }
    case 'identify': {
      const read = readObject(message, 'traits');
      if (read === null) issues = add(issues, 'traits', 'invalid_type', objectMessage(message['traits']));
      else bag = read;
      break;
    }
    case 'group': {
      const rawGroupId = message['groupId'];
      const read = readId(rawGroupId);
      if (read === null) issues = add(issues, 'groupId', 'invalid_type', idTypeMessage(rawGroupId));
      else if (read === undefined) issues = add(issues, 'groupId', 'required', 'required: the account id');
      else groupId = read;
      const traits = readObject(message, 'traits');
      if (traits === null) issues = add(issues, 'traits', 'invalid_type', objectMessage(message['traits']));
      else bag = traits;
      const rawTraitsOnly = message['traitsOnly'];
      if (rawTraitsOnly === true) traitsOnly = true;
      else if (rawTraitsOnly !== undefined && rawTraitsOnly !== null && rawTraitsOnly !== false) {
        issues = add(
          issues,
          'traitsOnly',
          'invalid_type',
          `expected a boolean, got ${describe(rawTraitsOnly)}`,
        );
      }
      break;
    }
    case 'alias': {
      const rawPreviousId = message['previousId'];
      const read = readId(rawPreviousId);
      if (read === null) issues = add(issues, 'previousId', 'invalid_type', idTypeMessage(rawPreviousId));
      else if (read === undefined) {
        issues = add(issues, 'previousId', 'required', 'required: alias needs the previous (anonymous) id');
      } else previousId = read;
      break;
    }
    case undefined:
      break;
  }

  if (issues !== undefined) return fail(issues);
  // Every field below was checked above; the casts only restate what the checks established.
  const id = messageId as string;
  const time = timestamp as number;
  const user = userId ?? undefined;
  const anon = anonymousId ?? undefined;
  switch (type as EventType) {
    case 'track': {
      const value: TrackEvent = {
        type: 'track',
        messageId: id,
        userId: user,
        anonymousId: anon,
        timestamp: time,
        contextGroupId,
        event: event as string,
        properties: bag,
      };
      return { ok: true, value };
    }
    case 'page':
    case 'screen': {
      const value: PageEvent = {
        type: type as 'page' | 'screen',
        messageId: id,
        userId: user,
        anonymousId: anon,
        timestamp: time,
        contextGroupId,
        name,
        properties: bag,
      };
      return { ok: true, value };
    }
    case 'identify': {
      const value: IdentifyEvent = {
        type: 'identify',
        messageId: id,
        userId: user,
        anonymousId: anon,
        timestamp: time,
        contextGroupId,
        traits: bag,
      };
      return { ok: true, value };
    }
    case 'group': {
      const value: GroupEvent = {
        type: 'group',
        messageId: id,
        userId: user,
        anonymousId: anon,
        timestamp: time,
        contextGroupId,
        groupId: groupId as string,
        traits: bag,
        traitsOnly,
      };
      return { ok: true, value };
    }
    case 'alias': {
      const value: AliasEvent = {
        type: 'alias',
        messageId: id,
        userId: user,
        anonymousId: anon,
        timestamp: time,
        contextGroupId,
        previousId: previousId as string,
      };
      return { ok: true, value };
    }
  }
}

/** Decodes one NDJSON line and parses it; a line that is not JSON gives one `invalid_json` issue naming the line. */
export function parseEventLine(
  line: string,
  lineNumber: number,
  options?: ParseEventOptions,
): Parsed<ProductEvent> {
  let input: unknown;
  try {
    input = JSON.parse(line);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const what = isBlank(line) ? 'is empty' : `is not valid JSON (${reason})`;
    return fail([createIssue('', 'invalid_json', `line ${lineNumber} ${what}`)]);
  }
  return parseEvent(input, options);
}

/**
 * Serializes an event as the canonical Segment-spec JSON stored in the event log; for every event that
 * `parseEvent` produced, `parseEvent(JSON.parse(serializeEvent(e)))` gives back an equal event.
 */
export function serializeEvent(event: ProductEvent): string {
  const body: Record<string, unknown> = {
    type: event.type,
    messageId: event.messageId,
    timestamp: new Date(event.timestamp).toISOString(),
  };
  if (event.userId !== undefined) body['userId'] = event.userId;
  if (event.anonymousId !== undefined) body['anonymousId'] = event.anonymousId;
  switch (event.type) {
    case 'track':
      body['event'] = event.event;
      body['properties'] = event.properties;
      break;
    case 'page':
    case 'screen':
      if (event.name !== undefined) body['name'] = event.name;
      body['properties'] = event.properties;
      break;
    case 'identify':
      body['traits'] = event.traits;
      break;
    case 'group':
      body['groupId'] = event.groupId;
      body['traits'] = event.traits;
      if (event.traitsOnly) body['traitsOnly'] = true;
      break;
    case 'alias':
      body['previousId'] = event.previousId;
      break;
  }
  if (event.contextGroupId !== undefined) body['context'] = { groupId: event.contextGroupId };
  return JSON.stringify(body);
}

/**
 * Reads an event time: an ISO-8601 string with a zone (`Z` or `±hh:mm`) or epoch milliseconds; undefined when
 * it is neither (strings that `Date.parse` would guess at, like "yesterday" or zoneless local times, included).
 */
export function parseTimestamp(value: unknown): number | undefined {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return undefined;
    const ms = Math.floor(value);
    return ms >= MIN_EVENT_TIME && ms <= MAX_EVENT_TIME ? ms : undefined;
  }
  if (typeof value === 'string') return parseIsoTime(value);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------

function parseIsoTime(s: string): number | undefined {
  const n = s.length;
  // Shortest accepted form: YYYY-MM-DDTHH:MMZ.
  if (n < 17 || n > 64) return undefined;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const sep = s.charCodeAt(10);
  if (
    year < 0 ||
    month < 1 ||
    month > 12 ||
    day < 1 ||
    hour < 0 ||
    hour > 23 ||
    minute < 0 ||
    minute > 59 ||
    s.charCodeAt(4) !== DASH ||
    s.charCodeAt(7) !== DASH ||
    s.charCodeAt(13) !== COLON ||
    // RFC 3339 also allows a space (or lowercase t) between date and time.
    (sep !== UPPER_T && sep !== LOWER_T && sep !== SPACE) ||
    day > daysInMonth(year, month)
  ) {
    return undefined;
  }
  let i = 16;
  let second = 0;
  let ms = 0;
  if (s.charCodeAt(i) === COLON) {
    second = digits(s, 17, 2);
    if (second < 0 || second > 59) return undefined;
    i = 19;
    const c = s.charCodeAt(i);
    if (c === DOT || c === COMMA) {
      i++;
      const start = i;
      let scale = 100;
      for (let d = s.charCodeAt(i) - ZERO; d >= 0 && d <= 9; d = s.charCodeAt(i) - ZERO) {
        // Digits beyond milliseconds are truncated, as Date.parse does.
        ms += d * scale;
        scale = scale / 10;
        i++;
      }
      if (i === start) return undefined;
      ms = Math.floor(ms);
    }
  }
  let offsetMinutes = 0;
  const zone = s.charCodeAt(i);
  if (zone === UPPER_Z || zone === LOWER_Z) {
    if (i + 1 !== n) return undefined;
  } else if (zone === PLUS || zone === DASH) {
    const oh = digits(s, i + 1, 2);
    let om = 0;
    if (s.charCodeAt(i + 3) === COLON && i + 6 === n) om = digits(s, i + 4, 2);
    else if (i + 5 === n) om = digits(s, i + 3, 2);
    else if (i + 3 !== n) return undefined;
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMinutes = (zone === PLUS ? 1 : -1) * (oh * 60 + om);
  } else {
    // No zone: a local time whose instant depends on the reader's machine.
    return undefined;
  }
  const time =
    daysFromCivil(year, month, day) * 86_400_000 +
    hour * 3_600_000 +
    minute * 60_000 +
    second * 1000 +
    ms -
    offsetMinutes * 60_000;
  return time >= MIN_EVENT_TIME && time <= MAX_EVENT_TIME ? time : undefined;
}

const DASH = 45;
const PLUS = 43;
const COLON = 58;
const DOT = 46;
const COMMA = 44;
const SPACE = 32;
const ZERO = 48;
const UPPER_T = 84;
const LOWER_T = 116;
const UPPER_Z = 90;
const LOWER_Z = 122;

/** The value of `count` decimal digits at `start`, or -1 if any is not a digit (or is past the end). */
function digits(s: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const d = s.charCodeAt(i) - ZERO;
    if (!(d >= 0 && d <= 9)) return -1;
    value = value * 10 + d;
  }
  return value;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An id field: a non-empty string, or a finite number coerced to its string; undefined if absent, null if invalid. */
function readId(value: unknown): string | undefined | null {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : null;
  if (value === undefined || value === null) return undefined;
  return null;
}

/** An optional object field: the object, EMPTY if absent, null if it is not an object. */
function readObject(message: Record<string, unknown>, key: string): Properties | null {
  const value = message[key];
  if (value === undefined || value === null) return EMPTY;
  return isObject(value) ? value : null;
}

function add(issues: Issue[] | undefined, path: string, code: EventIssueCode, message: string): Issue[] {
  const issue = createIssue(path, code, message);
  if (issues === undefined) return [issue];
  issues.push(issue);
  return issues;
}

function fail(issues: readonly Issue[]): Parsed<ProductEvent> {
  return { ok: false, issues };
}

function idTypeMessage(value: unknown): string {
  return `expected a string or a number, got ${describe(value)}`;
}

function objectMessage(value: unknown): string {
  return `expected an object, got ${describe(value)}`;
}

function timeMessage(value: unknown): string {
  return `expected an ISO-8601 time with a zone (like "2024-05-01T12:00:00Z") or epoch milliseconds, got ${describe(value)}`;
}

/** A short description of a value for an issue message: the value itself for scalars, its kind otherwise. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== SPACE && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}
