import { describe, expect, it } from 'vitest';
import { createRandom, mixSeed } from './random.js';

function draws(seed: number, count: number): number[] {
  const random = createRandom(seed);
  return Array.from({ length: count }, () => random.uint32());
}

describe('createRandom', () => {
  it('repeats the same sequence for the same seed', () => {
    expect(draws(42, 1000)).toEqual(draws(42, 1000));
  });

  it('gives a different sequence for a different seed', () => {
    expect(draws(42, 100)).not.toEqual(draws(43, 100));
  });

  it('keeps next() in [0, 1) with a mean near 0.5', () => {
    const random = createRandom(1);
    let sum = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < 100_000; i++) {
      const value = random.next();
      sum += value;
      min = Math.min(min, value);
      max = Math.max(max, value);
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / 100_000).toBeCloseTo(0.5, 2);
  });

  it('draws int(min, max) inclusive of both bounds and nothing outside', () => {
    const random = createRandom(2);
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) seen.add(random.int(3, 7));
    expect([...seen].sort()).toEqual([3, 4, 5, 6, 7]);
  });

  it('never picks a zero-weight item and follows the weights', () => {
    const random = createRandom(3);
    const counts = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 30_000; i++) counts[random.weighted(['a', 'b', 'c'] as const, [1, 0, 3])]++;
    expect(counts.b).toBe(0);
    expect(counts.c / counts.a).toBeGreaterThan(2.7);
    expect(counts.c / counts.a).toBeLessThan(3.3);
  });

  it('throws on pick from an empty array and on all-zero weights', () => {
    const random = createRandom(4);
    expect(() => random.pick([])).toThrow(RangeError);
    expect(() => random.weighted(['a'], [0])).toThrow(RangeError);
  });

  it('matches the mean and spread of normal, exponential and poisson draws', () => {
    const random = createRandom(5);
    const n = 50_000;
    const normals = Array.from({ length: n }, () => random.normal(10, 2));
    const mean = normals.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(normals.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    expect(mean).toBeCloseTo(10, 1);
    expect(sd).toBeCloseTo(2, 1);
    const exponentialMean =
      Array.from({ length: n }, () => random.exponential(4)).reduce((a, b) => a + b, 0) / n;
    expect(exponentialMean).toBeGreaterThan(3.85);
    expect(exponentialMean).toBeLessThan(4.15);
    for (const lambda of [0.3, 5, 80]) {
      const poissonMean =
        Array.from({ length: n }, () => random.poisson(lambda)).reduce((a, b) => a + b, 0) / n;
      expect(Math.abs(poissonMean - lambda) / lambda).toBeLessThan(0.03);
    }
    expect(random.poisson(0)).toBe(0);
  });

  it('formats uuids as version-4 UUIDs and does not repeat them', () => {
    const random = createRandom(6);
    const ids = new Set<string>();
    const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    let malformed = 0;
    for (let i = 0; i < 20_000; i++) {
      const id = random.uuid();
      if (!shape.test(id)) malformed++;
      ids.add(id);
    }
    expect(malformed).toBe(0);
    expect(ids.size).toBe(20_000);
  });

  it('builds tokens of the requested length from [0-9A-Za-z]', () => {
    expect(createRandom(7).token(24)).toMatch(/^[0-9A-Za-z]{24}$/);
  });

  it('shuffles into a permutation of the input', () => {
    const shuffled = createRandom(8).shuffle([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect([...shuffled].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(shuffled).not.toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('mixSeed', () => {
  it('derives distinct seeds for distinct parts, including seeds above 32 bits', () => {
    const seeds = new Set<number>();
    for (let account = 0; account < 1000; account++)
      for (const stream of [1, 2, 3]) seeds.add(mixSeed(42, account, stream));
    expect(seeds.size).toBe(3000);
    expect(mixSeed(1, 2)).toBe(mixSeed(1, 2));
    expect(mixSeed(2 ** 32 + 5)).not.toBe(mixSeed(5));
  });
});
