import { describe, expect, it } from 'vitest';
import { canonicalJson, definitionContentHash, fnv1a64 } from './content-hash.js';
import { parseDefinition } from './parse-definition.js';

const written = {
  id: 'hash-test',
  name: 'Hash test',
  signals: {
    first_call: { event: 'API Call Made' },
    volume: { event: 'Events Processed', sum: 'properties.count', gte: 1000, window: '30d' },
  },
  qualify: { all: ['first_call', 'volume'] },
  expire: '30d',
};

function hashOf(input: unknown): string {
  const parsed = parseDefinition(input);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
  return parsed.value.contentHash;
}

describe('fnv1a64', () => {
  it('matches the published FNV-1a 64-bit test vectors', () => {
    expect([fnv1a64(''), fnv1a64('a'), fnv1a64('foobar')]).toEqual([
      'cbf29ce484222325',
      'af63dc4c8601ec8c',
      '85944171f73967e8',
    ]);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    expect(fnv1a64('é')).not.toBe(fnv1a64('e'));
    expect(fnv1a64('€')).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('canonicalJson', () => {
  it('sorts keys at every depth and leaves out undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });
});

describe('definition content hash', () => {
  it('does not change when keys are written in another order', () => {
    const reordered = {
      expire: '30d',
      qualify: { all: ['first_call', 'volume'] },
      signals: {
        volume: { window: '30d', gte: 1000, sum: 'properties.count', event: 'Events Processed' },
        first_call: { event: 'API Call Made' },
      },
      name: 'Hash test',
      id: 'hash-test',
    };
    expect(hashOf(reordered)).toBe(hashOf(written));
  });

  it('does not change when a duration is written in another unit', () => {
    expect(hashOf({ ...written, expire: '720h' })).toBe(hashOf(written));
  });

  it('changes when a threshold changes', () => {
    const changed = {
      ...written,
      signals: { ...written.signals, volume: { ...written.signals.volume, gte: 1001 } },
    };
    expect(hashOf(changed)).not.toBe(hashOf(written));
  });

  it('is 16 hex digits and the same as hashing the normalized definition again', () => {
    const parsed = parseDefinition(written);
    if (!parsed.ok) throw new Error('expected the definition to parse');
    expect(parsed.value.contentHash).toMatch(/^[0-9a-f]{16}$/);
    expect(definitionContentHash(parsed.value)).toBe(parsed.value.contentHash);
  });
});
