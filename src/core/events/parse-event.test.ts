import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Issue } from '../issues.js';
import type { ProductEvent } from './event.js';
import {
  MAX_EVENT_TIME,
  MIN_EVENT_TIME,
  parseEvent,
  parseEventLine,
  parseTimestamp,
  serializeEvent,
} from './parse-event.js';

const T = Date.UTC(2024, 4, 1, 12, 0, 0);
const ISO = '2024-05-01T12:00:00.000Z';

function issuesOf(input: unknown, options?: Parameters<typeof parseEvent>[1]): readonly Issue[] {
  const parsed = parseEvent(input, options);
  if (parsed.ok) throw new Error(`expected issues, got ${JSON.stringify(parsed.value)}`);
  return parsed.issues;
}

function valueOf(input: unknown, options?: Parameters<typeof parseEvent>[1]): ProductEvent {
  const parsed = parseEvent(input, options);
  if (!parsed.ok) throw new Error(`expected an event, got ${JSON.stringify(parsed.issues)}`);
  return parsed.value;
}

function codes(issues: readonly Issue[]): string[] {
  return issues.map((issue) => `${issue.path}:${issue.code}`);
}

describe('parseEvent', () => {
  it('parses a track call into a TrackEvent', () => {
    expect(
      valueOf({
        type: 'track',
        messageId: 'm1',
        userId: 'u1',
        anonymousId: 'a1',
        event: 'API Call Made',
        properties: { count: 3 },
        timestamp: ISO,
        context: { groupId: 'acc-1', ip: '1.2.3.4' },
      }),
    ).toEqual({
      type: 'track',
      messageId: 'm1',
      userId: 'u1',
      anonymousId: 'a1',
      timestamp: T,
      contextGroupId: 'acc-1',
      event: 'API Call Made',
      properties: { count: 3 },
    });
  });

  it('parses identify, group, page, screen and alias calls', () => {
    expect(
      valueOf({ type: 'identify', messageId: 'm', userId: 'u', traits: { email: 'a@b.co' }, timestamp: T }),
    ).toEqual({
      type: 'identify',
      messageId: 'm',
      userId: 'u',
      anonymousId: undefined,
      timestamp: T,
      contextGroupId: undefined,
      traits: { email: 'a@b.co' },
    });
    expect(
      valueOf({
        type: 'group',
        messageId: 'm',
        userId: 'u',
        groupId: 'acc',
        traits: { plan: 'pro' },
        timestamp: T,
      }),
    ).toEqual({
      type: 'group',
      messageId: 'm',
      userId: 'u',
      anonymousId: undefined,
      timestamp: T,
      contextGroupId: undefined,
      groupId: 'acc',
      traits: { plan: 'pro' },
      traitsOnly: false,
    });
    expect(
      valueOf({ type: 'page', messageId: 'm', anonymousId: 'a', name: 'Pricing', timestamp: T }),
    ).toEqual({
      type: 'page',
      messageId: 'm',
      userId: undefined,
      anonymousId: 'a',
      timestamp: T,
      contextGroupId: undefined,
      name: 'Pricing',
      properties: {},
    });
    expect(
      valueOf({ type: 'screen', messageId: 'm', userId: 'u', properties: { name: 'Home' }, timestamp: T }),
    ).toMatchObject({ type: 'screen', name: 'Home', properties: { name: 'Home' } });
    expect(
      valueOf({ type: 'alias', messageId: 'm', userId: 'u', previousId: 'anon-1', timestamp: T }),
    ).toEqual({
      type: 'alias',
      messageId: 'm',
      userId: 'u',
      anonymousId: undefined,
      timestamp: T,
      contextGroupId: undefined,
      previousId: 'anon-1',
    });
  });

  it('reads traitsOnly: true on a group call as a trait-only ($groupidentify) group event', () => {
    expect(
      valueOf({ type: 'group', messageId: 'm', userId: 'u', groupId: 'acc', traitsOnly: true, timestamp: T }),
    ).toMatchObject({ type: 'group', traitsOnly: true, traits: {} });
  });

  it('coerces numeric ids to strings as Segment does', () => {
    expect(
      valueOf({
        type: 'group',
        messageId: 7,
        userId: 42,
        anonymousId: 1.5,
        groupId: 1001,
        timestamp: T,
        context: { groupId: 9 },
      }),
    ).toMatchObject({
      messageId: '7',
      userId: '42',
      anonymousId: '1.5',
      groupId: '1001',
      contextGroupId: '9',
    });
  });

  it('treats null and empty-string ids as absent', () => {
    expect(
      valueOf({ type: 'track', messageId: 'm', userId: null, anonymousId: 'a', event: 'E', timestamp: T }),
    ).toMatchObject({ userId: undefined, anonymousId: 'a' });
    expect(codes(issuesOf({ type: 'track', messageId: 'm', userId: '', event: 'E', timestamp: T }))).toEqual([
      'userId:required',
    ]);
  });

  it('rejects a non-object with one invalid_type issue at the root', () => {
    expect(issuesOf('hello')).toEqual([
      { path: '', code: 'invalid_type', message: 'expected a JSON object, got "hello"' },
    ]);
    expect(codes(issuesOf([1, 2]))).toEqual([':invalid_type']);
    expect(codes(issuesOf(null))).toEqual([':invalid_type']);
  });

  it('rejects a missing, non-string or unknown type', () => {
    const base = { messageId: 'm', userId: 'u', timestamp: T };
    expect(codes(issuesOf(base))).toEqual(['type:required']);
    expect(codes(issuesOf({ ...base, type: 3 }))).toEqual(['type:invalid_type']);
    expect(issuesOf({ ...base, type: 'Track' })).toEqual([
      {
        path: 'type',
        code: 'unknown_type',
        message: 'expected one of track, identify, group, page, screen, alias, got "Track"',
      },
    ]);
  });

  it('reports every issue of a message at once', () => {
    expect(
      codes(
        issuesOf({
          type: 'track',
          properties: [1],
          timestamp: 'yesterday',
          context: 'web',
        }),
      ),
    ).toEqual([
      'messageId:required',
      'userId:required',
      'timestamp:invalid_timestamp',
      'context:invalid_type',
      'event:required',
      'properties:invalid_type',
    ]);
  });

  it('still checks the common fields when the type is unknown', () => {
    expect(codes(issuesOf({ type: 'bogus', timestamp: T, messageId: 'm' }))).toEqual([
      'type:unknown_type',
      'userId:required',
    ]);
  });

  it('requires an event name on track', () => {
    const base = { type: 'track', messageId: 'm', userId: 'u', timestamp: T };
    expect(codes(issuesOf(base))).toEqual(['event:required']);
    expect(codes(issuesOf({ ...base, event: '' }))).toEqual(['event:required']);
    expect(codes(issuesOf({ ...base, event: 5 }))).toEqual(['event:invalid_type']);
  });

  it('requires a userId and a previousId on alias', () => {
    expect(codes(issuesOf({ type: 'alias', messageId: 'm', anonymousId: 'a', timestamp: T }))).toEqual([
      'userId:required',
      'previousId:required',
    ]);
  });

  it('requires a groupId on group and checks the types of its fields', () => {
    expect(codes(issuesOf({ type: 'group', messageId: 'm', userId: 'u', timestamp: T }))).toEqual([
      'groupId:required',
    ]);
    expect(
      codes(
        issuesOf({
          type: 'group',
          messageId: 'm',
          userId: 'u',
          groupId: { id: 1 },
          traits: 'x',
          traitsOnly: 'yes',
          timestamp: T,
        }),
      ),
    ).toEqual(['groupId:invalid_type', 'traits:invalid_type', 'traitsOnly:invalid_type']);
  });

  it('checks the types of ids, traits, page names and context.groupId', () => {
    expect(
      codes(
        issuesOf({
          type: 'identify',
          messageId: true,
          userId: {},
          anonymousId: [],
          traits: [],
          timestamp: T,
          context: { groupId: false },
        }),
      ),
    ).toEqual([
      'messageId:invalid_type',
      'userId:invalid_type',
      'anonymousId:invalid_type',
      'context.groupId:invalid_type',
      'traits:invalid_type',
    ]);
    expect(codes(issuesOf({ type: 'page', messageId: 'm', userId: 'u', name: 1, timestamp: T }))).toEqual([
      'name:invalid_type',
    ]);
  });

  it('requires a messageId unless the caller derives one', () => {
    const message = { type: 'track', userId: 'u', event: 'E', timestamp: T };
    expect(issuesOf(message)).toEqual([
      { path: 'messageId', code: 'required', message: 'required: a unique id of the message' },
    ]);
    expect(valueOf(message, { deriveMessageId: (m) => `derived-${String(m['event'])}` }).messageId).toBe(
      'derived-E',
    );
  });

  it('names the unparseable timestamp value in the issue message', () => {
    expect(
      issuesOf({ type: 'track', messageId: 'm', userId: 'u', event: 'E', timestamp: 'yesterday' }),
    ).toEqual([
      {
        path: 'timestamp',
        code: 'invalid_timestamp',
        message:
          'expected an ISO-8601 time with a zone (like "2024-05-01T12:00:00Z") or epoch milliseconds, got "yesterday"',
      },
    ]);
  });

  it('takes the time from timestamp, then originalTimestamp, then the default, else reports it missing', () => {
    const base = { type: 'track', messageId: 'm', userId: 'u', event: 'E' };
    expect(
      valueOf({ ...base, timestamp: T, originalTimestamp: T + 5 }, { defaultTimestamp: 1 }).timestamp,
    ).toBe(T);
    expect(valueOf({ ...base, originalTimestamp: ISO }, { defaultTimestamp: 1 }).timestamp).toBe(T);
    expect(valueOf({ ...base, timestamp: null }, { defaultTimestamp: 1 }).timestamp).toBe(1);
    expect(codes(issuesOf(base))).toEqual(['timestamp:required']);
    expect(codes(issuesOf({ ...base, originalTimestamp: 'soon' }))).toEqual([
      'originalTimestamp:invalid_timestamp',
    ]);
  });

  it('does not fall back to originalTimestamp when timestamp is present but invalid', () => {
    expect(
      codes(
        issuesOf({
          type: 'track',
          messageId: 'm',
          userId: 'u',
          event: 'E',
          timestamp: '',
          originalTimestamp: T,
        }),
      ),
    ).toEqual(['timestamp:invalid_timestamp']);
  });

  it('shares the input properties object instead of copying it', () => {
    const properties = { a: 1 };
    const event = valueOf({
      type: 'track',
      messageId: 'm',
      userId: 'u',
      event: 'E',
      properties,
      timestamp: T,
    });
    expect(event.type === 'track' && event.properties).toBe(properties);
  });
});

describe('parseTimestamp', () => {
  it('reads ISO-8601 times with Z or a numeric offset', () => {
    expect(parseTimestamp('2024-05-01T12:00:00Z')).toBe(T);
    expect(parseTimestamp('2024-05-01T12:00Z')).toBe(T);
    expect(parseTimestamp('2024-05-01T14:00:00+02:00')).toBe(T);
    expect(parseTimestamp('2024-05-01T14:00:00+0200')).toBe(T);
    expect(parseTimestamp('2024-05-01T07:00:00-05')).toBe(T);
    expect(parseTimestamp('2024-05-01 12:00:00z')).toBe(T);
    expect(parseTimestamp('2024-05-01t12:00:00.123Z')).toBe(T + 123);
    expect(parseTimestamp('2024-05-01T12:00:00.5Z')).toBe(T + 500);
    expect(parseTimestamp('2024-05-01T12:00:00,25Z')).toBe(T + 250);
    expect(parseTimestamp('2024-05-01T12:00:00.123456789Z')).toBe(T + 123);
    expect(parseTimestamp('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseTimestamp('1969-12-31T23:59:59.999Z')).toBe(-1);
  });

  it('reads epoch milliseconds, flooring fractions', () => {
    expect(parseTimestamp(T)).toBe(T);
    expect(parseTimestamp(T + 0.9)).toBe(T);
    expect(parseTimestamp(0)).toBe(0);
  });

  it('rejects strings Date.parse accepts that are not zoned ISO-8601 times', () => {
    for (const text of [
      'yesterday',
      'May 1, 2024',
      'Wed, 01 May 2024 12:00:00 GMT',
      '2024-05-01',
      '2024-05-01T12:00:00',
      '2024-05-01T12:00:00.000',
      '2024-5-01T12:00:00Z',
      '2024-05-01T12:00:00ZZ',
      '2024-05-01T12:00:00.Z',
      '2024-05-01T12:00:00+2',
      '2024-05-01T12:00:00+02:0',
      '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z',
      '2024-13-01T00:00:00Z',
      '2024-05-01T24:00:00Z',
      '2024-05-01T12:60:00Z',
      '2024-05-01T12:00:60Z',
      '1700000000000',
      '',
    ]) {
      expect(parseTimestamp(text), text).toBeUndefined();
    }
  });

  it('rejects non-finite numbers, out-of-range times and other types', () => {
    expect(parseTimestamp(Number.NaN)).toBeUndefined();
    expect(parseTimestamp(Number.POSITIVE_INFINITY)).toBeUndefined();
    expect(parseTimestamp(MAX_EVENT_TIME + 1)).toBeUndefined();
    expect(parseTimestamp(MIN_EVENT_TIME - 1)).toBeUndefined();
    expect(parseTimestamp('0000-01-01T00:00:00+01:00')).toBeUndefined();
    expect(parseTimestamp(true)).toBeUndefined();
    expect(parseTimestamp({})).toBeUndefined();
  });

  it('agrees with Date.parse on every toISOString output in range', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_EVENT_TIME, max: MAX_EVENT_TIME }), (ms) => {
        expect(parseTimestamp(new Date(ms).toISOString())).toBe(ms);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('parseEventLine', () => {
  it('parses a JSON line', () => {
    const parsed = parseEventLine(
      `{"type":"track","messageId":"m","userId":"u","event":"E","timestamp":"${ISO}"}`,
      1,
    );
    expect(parsed.ok && parsed.value.timestamp).toBe(T);
  });

  it('reports a line that is not JSON as invalid_json naming the line', () => {
    const parsed = parseEventLine('{"type":', 12);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues.length).toBe(1);
    expect(parsed.issues[0]?.path).toBe('');
    expect(parsed.issues[0]?.code).toBe('invalid_json');
    expect(parsed.issues[0]?.message.startsWith('line 12 is not valid JSON (')).toBe(true);
  });

  it('reports a blank line as empty', () => {
    expect(parseEventLine('  \r', 3)).toEqual({
      ok: false,
      issues: [{ path: '', code: 'invalid_json', message: 'line 3 is empty' }],
    });
  });
});

describe('serializeEvent', () => {
  it('writes the canonical Segment JSON', () => {
    const event = valueOf({
      type: 'group',
      messageId: 'm',
      userId: 'u',
      groupId: 'acc',
      traitsOnly: true,
      traits: { plan: 'pro' },
      timestamp: T,
      context: { groupId: 'acc', library: { name: 'x' } },
    });
    expect(serializeEvent(event)).toBe(
      `{"type":"group","messageId":"m","timestamp":"${ISO}","userId":"u","groupId":"acc","traits":{"plan":"pro"},"traitsOnly":true,"context":{"groupId":"acc"}}`,
    );
  });

  it('round-trips every event parseEvent produces', () => {
    const id = fc.option(fc.string({ minLength: 1, maxLength: 8 }), { nil: undefined });
    const json = fc.dictionary(
      fc.string({ maxLength: 5 }),
      fc.oneof(fc.string(), fc.integer(), fc.boolean()),
    );
    const message = fc.record({
      type: fc.constantFrom('track', 'identify', 'group', 'page', 'screen', 'alias'),
      messageId: fc.string({ minLength: 1, maxLength: 8 }),
      userId: fc.string({ minLength: 1, maxLength: 8 }),
      anonymousId: id,
      timestamp: fc.integer({ min: MIN_EVENT_TIME, max: MAX_EVENT_TIME }),
      event: fc.string({ minLength: 1, maxLength: 8 }),
      name: id,
      groupId: fc.string({ minLength: 1, maxLength: 8 }),
      previousId: fc.string({ minLength: 1, maxLength: 8 }),
      traitsOnly: fc.boolean(),
      properties: json,
      traits: json,
      context: fc.record({ groupId: id }),
    });
    fc.assert(
      fc.property(message, (input) => {
        const event = valueOf(input);
        expect(valueOf(JSON.parse(serializeEvent(event)))).toEqual(event);
      }),
      { numRuns: 500 },
    );
  });
});
