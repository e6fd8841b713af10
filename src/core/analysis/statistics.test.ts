import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  fisherExactGreater,
  fisherExactTwoSided,
  LogFactorials,
  median,
  precisionRecall,
  quantileSorted,
  riskRatioInterval,
  wilsonInterval,
} from './statistics.js';

describe('fisherExactTwoSided', () => {
  it('sums the tables at most as likely as [[3,1],[1,3]]: (1+16+16+1)/70', () => {
    // Margins 4/4 of 8: P(x) = C(4,x)·C(4,4-x)/C(8,4) = 1, 16, 36, 16, 1 over 70 for x = 0..4.
    expect(fisherExactTwoSided(3, 1, 1, 3)).toBeCloseTo(34 / 70, 12);
  });

  it('gives 2/C(20,10) for a perfect split of 20 and 1 for the most likely table', () => {
    expect(fisherExactTwoSided(10, 0, 0, 10)).toBeCloseTo(2 / 184_756, 15);
    expect(fisherExactTwoSided(2, 2, 2, 2)).toBeCloseTo(1, 12);
    expect(fisherExactTwoSided(0, 0, 0, 0)).toBe(1);
  });

  it('handles tens of thousands of accounts without overflow', () => {
    const p = fisherExactTwoSided(600, 9_400, 500, 19_500);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1e-20);
    expect(fisherExactTwoSided(300, 9_700, 600, 19_400)).toBeGreaterThan(0.9);
  });
});

describe('fisherExactGreater', () => {
  it('is the upper tail P(X >= a): 17/70 for [[3,1],[1,3]] and 1 - P(X < a) in general', () => {
    expect(fisherExactGreater(3, 1, 1, 3)).toBeCloseTo(17 / 70, 12);
    expect(fisherExactGreater(0, 4, 4, 0)).toBeCloseTo(1, 12);
    // [[1,3],[3,1]]: P(X >= 1) = 1 - P(X = 0) = 69/70.
    expect(fisherExactGreater(1, 3, 3, 1)).toBeCloseTo(69 / 70, 12);
  });

  it('matches the hypergeometric tail summed by hand for [[10,10],[2,18]]', () => {
    // rows 20/20, 12 converters of 40: sum over x = 10..12 of C(20,x)·C(20,12-x)/C(40,12).
    const c = (n: number, k: number): number => {
      let r = 1;
      for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
      return r;
    };
    const tail = (c(20, 10) * c(20, 2) + c(20, 11) * c(20, 1) + c(20, 12)) / c(40, 12);
    expect(fisherExactGreater(10, 10, 2, 18)).toBeCloseTo(tail, 12);
    expect(tail).toBeCloseTo(0.006907073925983826, 12);
  });
});

describe('LogFactorials', () => {
  it('gives log(n!) exactly summed', () => {
    const lf = new LogFactorials();
    expect(lf.of(0)).toBe(0);
    expect(lf.of(5)).toBeCloseTo(Math.log(120), 12);
    expect(lf.of(3)).toBeCloseTo(Math.log(6), 12);
  });
});

describe('wilsonInterval', () => {
  it('gives [0.2366, 0.7634] for 5 of 10 and starts at exactly 0 for 0 of 10', () => {
    const half = wilsonInterval(5, 10) as readonly [number, number];
    expect(half[0]).toBeCloseTo(0.236593, 5);
    expect(half[1]).toBeCloseTo(0.763407, 5);
    // 0 of n: [0, z²/n / (1 + z²/n)] = [0, 3.8415/13.8415].
    const none = wilsonInterval(0, 10) as readonly [number, number];
    expect(none[0]).toBe(0);
    expect(none[1]).toBeCloseTo(0.277533, 5);
    expect(wilsonInterval(0, 0)).toBeUndefined();
  });
});

describe('riskRatioInterval', () => {
  it('gives the Katz interval 2·exp(±1.96·√(1/20 − 1/100 + 1/10 − 1/100)) for 20/100 vs 10/100', () => {
    const [low, high] = riskRatioInterval(20, 100, 10, 100) as readonly [number, number];
    expect(low).toBeCloseTo(0.98656, 4);
    expect(high).toBeCloseTo(4.05448, 4);
  });

  it('stays finite with a zero cell and is undefined for an empty group', () => {
    const [low, high] = riskRatioInterval(5, 10, 0, 10) as readonly [number, number];
    // 0.5 added to every cell: (5.5/11)/(0.5/11) = 11, se = √(1/5.5 − 1/11 + 1/0.5 − 1/11) = √2.
    expect(low).toBeCloseTo(11 * Math.exp(-1.959963984540054 * Math.SQRT2), 10);
    expect(high).toBeCloseTo(11 * Math.exp(1.959963984540054 * Math.SQRT2), 10);
    expect(riskRatioInterval(1, 0, 1, 10)).toBeUndefined();
  });
});

describe('benjaminiHochberg', () => {
  it('adjusts a known case, in input order, taking the running minimum from the top rank', () => {
    // Sorted p·m/rank: 0.008, 0.032, 0.104, 0.082, 0.0672, 0.08, 0.0846, 0.205; then minimum from the top.
    const p = [0.041, 0.001, 0.205, 0.039, 0.06, 0.008, 0.074, 0.042];
    const q = benjaminiHochberg(p);
    const expected = [0.0672, 0.008, 0.205, 0.0672, 0.08, 0.032, 0.074 * (8 / 7), 0.0672];
    q.forEach((value, i) => expect(value).toBeCloseTo(expected[i] as number, 10));
  });

  it('caps at 1 and keeps an empty list empty', () => {
    expect(benjaminiHochberg([0.9, 0.8])).toEqual([0.9, 0.9]);
    expect(benjaminiHochberg([1, 1, 1])).toEqual([1, 1, 1]);
    expect(benjaminiHochberg([])).toEqual([]);
  });
});

describe('median, quantileSorted and precisionRecall', () => {
  it('gives the middle value, the mean of two middles, and nearest-rank quantiles', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeUndefined();
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2);
    expect(quantileSorted([1, 2, 3, 4], 0.75)).toBe(3);
    expect(quantileSorted([1, 2, 3, 4], 0.9)).toBe(4);
  });

  it('gives precision hits/flagged, recall hits/positives and their harmonic mean', () => {
    expect(precisionRecall(10, 20, 12)).toEqual({ precision: 0.5, recall: 10 / 12, f1: 0.625 });
    expect(precisionRecall(0, 0, 5)).toEqual({ precision: undefined, recall: 0, f1: undefined });
  });
});
