import { describe, expect, it } from 'vitest';
import { canonicalJson, deriveMessageId, exceedsDepth, jsonDepth } from './message-checks.js';

describe('message checks', () => {
  it('measures JSON nesting by bytes, ignoring brackets and escaped quotes inside strings', () => {
    expect(jsonDepth(Buffer.from('{"a":[1,{"b":"[[[{{"}]}'))).toBe(3);
    expect(jsonDepth(Buffer.from('{"a":"x\\"[[[","b":{}}'))).toBe(2);
    expect(jsonDepth(Buffer.from('1'))).toBe(0);
  });

  it('finds nesting beyond the limit without recursion, at any depth', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(exceedsDepth(deep, 64)).toBe(true);
    expect(exceedsDepth({ a: { b: [1, 2] } }, 3)).toBe(false);
    expect(exceedsDepth({ a: { b: [1, 2] } }, 2)).toBe(true);
  });

  it('derives the same messageId whatever the key order or sentAt, and another for another write key', () => {
    const a = {
      type: 'track',
      event: 'E',
      userId: 'u',
      properties: { x: 1, y: 2 },
      sentAt: '2026-01-01T00:00:00Z',
    };
    const b = {
      properties: { y: 2, x: 1 },
      userId: 'u',
      event: 'E',
      type: 'track',
      sentAt: '2026-01-01T00:00:09Z',
    };
    expect(canonicalJson(a.properties)).toBe('{"x":1,"y":2}');
    expect(deriveMessageId('k1', a)).toBe(deriveMessageId('k1', b));
    expect(deriveMessageId('k1', a)).not.toBe(deriveMessageId('k2', a));
    expect(deriveMessageId('k1', a)).not.toBe(deriveMessageId('k1', { ...a, event: 'F' }));
  });
});
