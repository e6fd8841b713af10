import { describe, expect, it } from 'vitest';
import { DedupeWindow } from './dedupe-window.js';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 4, 1);

describe('DedupeWindow', () => {
  it('reports the second delivery of an id as a duplicate and the first as new', () => {
    const window = new DedupeWindow();
    expect(window.seen('m1', T0)).toBe(false);
    expect(window.seen('m1', T0)).toBe(true);
    expect(window.seen('m2', T0)).toBe(false);
    expect(window.stats()).toMatchObject({ size: 2, duplicates: 1, tooOld: 0, evictedEarly: 0 });
  });

  it('finds a duplicate whose redelivery carries a different timestamp', () => {
    const window = new DedupeWindow();
    window.seen('m1', T0);
    expect(window.seen('m1', T0 + 5 * HOUR)).toBe(true);
  });

  it('remembers ids for the whole 24 h window behind the latest event time', () => {
    const window = new DedupeWindow();
    window.seen('old', T0);
    window.seen('new', T0 + 24 * HOUR);
    expect(window.seen('old', T0)).toBe(true);
  });

  it('forgets ids once their generation is entirely older than the window', () => {
    const window = new DedupeWindow();
    window.seen('old', T0 + 30 * 60_000);
    window.seen('new', T0 + 25 * HOUR);
    expect(window.stats().size).toBe(1);
    // Now older than the window: passed through (the store's unique index catches it) and not remembered.
    expect(window.seen('old', T0 + 30 * 60_000)).toBe(false);
    expect(window.stats()).toMatchObject({ size: 1, duplicates: 0, tooOld: 1, evictedEarly: 0 });
  });

  it('keeps memory bounded by time: only about window / bucket generations stay live', () => {
    const window = new DedupeWindow({ windowMs: 2 * HOUR, bucketMs: HOUR });
    for (let i = 0; i < 100; i++) window.seen(`m${i}`, T0 + i * HOUR);
    // Latest is T0 + 99 h; the generations of 97, 98 and 99 h are kept (97 is exactly latest - window).
    expect(window.stats().size).toBe(3);
    expect(window.seen('m97', T0 + 97 * HOUR)).toBe(true);
    expect(window.seen('m96', T0 + 96 * HOUR)).toBe(false);
  });

  it('does not evict on events that arrive late but within the window', () => {
    const window = new DedupeWindow({ windowMs: 2 * HOUR, bucketMs: HOUR });
    window.seen('a', T0 + 10 * HOUR);
    window.seen('b', T0 + 9 * HOUR);
    expect(window.seen('a', T0 + 10 * HOUR)).toBe(true);
    expect(window.seen('b', T0 + 9 * HOUR)).toBe(true);
    expect(window.stats().size).toBe(2);
  });

  it('handles a jump of years in event time without scanning the gap', () => {
    const window = new DedupeWindow();
    window.seen('a', 0);
    window.seen('b', T0);
    expect(window.stats().size).toBe(1);
    expect(window.seen('b', T0)).toBe(true);
  });

  it('drops the oldest generation (an eighth of maxIds) early when maxIds is exceeded and counts it', () => {
    const window = new DedupeWindow({ maxIds: 16 });
    // Generations of 2 ids: a0 a1 | a2 a3 | ... | a16 — the 17th id pushes out the first generation.
    for (let i = 0; i <= 16; i++) window.seen(`a${i}`, T0);
    expect(window.stats()).toMatchObject({ size: 15, duplicates: 0, tooOld: 0, evictedEarly: 2 });
    expect(window.seen('a2', T0)).toBe(true);
    expect(window.seen('a0', T0)).toBe(false);
  });

  it('keeps each bucketMs of event time in its own generations, late ids included', () => {
    const window = new DedupeWindow({ windowMs: 8 * HOUR, bucketMs: HOUR });
    window.seen('early', T0);
    window.seen('same-generation', T0 + 30 * 60_000);
    window.seen('next-generation', T0 + HOUR);
    window.seen('latest', T0 + 8 * HOUR + 45 * 60_000);
    // Cutoff T0 + 45 min: the first generation's newest id (T0 + 30 min) is older, so both of its ids go.
    expect(window.stats().size).toBe(2);
    expect(window.seen('next-generation', T0 + HOUR)).toBe(true);
    // Ids alternating between two buckets share two generations, not one each.
    for (let i = 0; i < 100; i++) window.seen(`alt${i}`, T0 + (i % 2 === 0 ? 7 : 8) * HOUR);
    expect(window.stats()).toMatchObject({ size: 102, generations: 3 });
    expect(window.seen('alt0', T0 + 7 * HOUR)).toBe(true);
  });

  it('keeps a few generations however long the window: an unbounded one (a backtest) splits by size only', () => {
    const window = new DedupeWindow({ windowMs: Number.POSITIVE_INFINITY, maxIds: 80_000 });
    // A year of ids, one an hour... and many more: the generations stay within the cap's eighths.
    for (let i = 0; i < 60_000; i++) window.seen(`m${i}`, T0 + i * (HOUR / 7));
    expect(window.stats()).toMatchObject({ size: 60_000, generations: 6, evictedEarly: 0 });
    expect(window.seen('m0', T0 + 400 * 24 * HOUR)).toBe(true);
    // A 30-day window spans 8 buckets at most, not 120 of 6 h.
    const month = new DedupeWindow({ windowMs: 30 * 24 * HOUR });
    for (let i = 0; i < 24 * 60; i++) month.seen(`h${i}`, T0 + i * HOUR);
    expect(month.stats().generations).toBeLessThanOrEqual(9);
  });

  it('forgets nothing by count while a million ids stay under maxIds', () => {
    const window = new DedupeWindow();
    for (let i = 0; i < 1_000_000; i++) window.seen(`m${i}`, T0 + i);
    expect(window.stats()).toMatchObject({ size: 1_000_000, duplicates: 0, tooOld: 0, evictedEarly: 0 });
    expect(window.seen('m0', T0)).toBe(true);
    expect(window.seen('m999999', T0)).toBe(true);
  });

  it('rejects a non-positive window', () => {
    expect(() => new DedupeWindow({ windowMs: 0 })).toThrow(
      'DedupeWindow: windowMs, bucketMs and maxIds must be positive, got 0, 21600000, 2000000',
    );
  });
});
