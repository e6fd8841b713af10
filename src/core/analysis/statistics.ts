/** z for a two-sided 95% interval. */
export const Z_95 = 1.959963984540054;

/** A closed interval [low, high]. */
export type Interval = readonly [low: number, high: number];

/**
 * Wilson score interval (95% by default) for `successes` out of `trials`; well-behaved at 0 and at n,
 * unlike the normal (Wald) interval. Undefined when there are no trials.
 */
export function wilsonInterval(successes: number, trials: number, z = Z_95): Interval | undefined {
  if (trials <= 0) return undefined;
  const p = successes / trials;
  const z2 = z * z;
  const denominator = 1 + z2 / trials;
  const center = (p + z2 / (2 * trials)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / denominator;
  return [Math.max(0, center - half), Math.min(1, center + half)];
}

/**
 * 95% interval of the ratio of two proportions (a/n1) / (c/n0) by the Katz log method, with a 0.5
 * correction on every cell when a cell is zero; undefined when a group is empty.
 */
export function riskRatioInterval(
  a: number,
  n1: number,
  c: number,
  n0: number,
  z = Z_95,
): Interval | undefined {
  if (n1 <= 0 || n0 <= 0) return undefined;
  let [x, m1, y, m0] = [a, n1, c, n0];
  if (x === 0 || y === 0 || x === m1 || y === m0) [x, m1, y, m0] = [x + 0.5, m1 + 1, y + 0.5, m0 + 1];
  const log = Math.log(x / m1 / (y / m0));
  const se = Math.sqrt(1 / x - 1 / m1 + 1 / y - 1 / m0);
  return [Math.exp(log - z * se), Math.exp(log + z * se)];
}

/**
 * log(n!) for 0..n, summed exactly in a table so hypergeometric probabilities of tables with tens of
 * thousands of accounts need no approximation of the gamma function.
 */
export class LogFactorials {
  private table: Float64Array = new Float64Array([0]);

  /** log(n!) for an integer n >= 0. */
  of(n: number): number {
    if (n >= this.table.length) this.grow(n);
    return this.table[n] as number;
  }

  private grow(n: number): void {
    const size = Math.max(n + 1, this.table.length * 2);
    const next = new Float64Array(size);
    next.set(this.table);
    for (let i = this.table.length; i < size; i++) next[i] = (next[i - 1] as number) + Math.log(i);
    this.table = next;
  }
}

const sharedLogFactorials = new LogFactorials();

/**
 * The hypergeometric distribution of the top-left cell of [[a, b], [c, d]] with the margins fixed: its log
 * probability at x and the range x can take; undefined for an empty table.
 */
function tableDistribution(
  a: number,
  b: number,
  c: number,
  d: number,
  logFactorials: LogFactorials,
): { readonly logP: (x: number) => number; readonly low: number; readonly high: number } | undefined {
  const row1 = a + b;
  const row2 = c + d;
  const col1 = a + c;
  const n = row1 + row2;
  if (n === 0) return undefined;
  const lf = (k: number): number => logFactorials.of(k);
  const base = lf(row1) + lf(row2) + lf(col1) + lf(n - col1) - lf(n);
  return {
    logP: (x) => base - lf(x) - lf(row1 - x) - lf(col1 - x) - lf(row2 - col1 + x),
    low: Math.max(0, col1 - row2),
    high: Math.min(row1, col1),
  };
}

/**
 * Two-sided Fisher exact test of the 2x2 table [[a, b], [c, d]]: the probability, with the margins
 * fixed, of a table at most as likely as the observed one (ties within a relative 1e-7 count).
 */
export function fisherExactTwoSided(
  a: number,
  b: number,
  c: number,
  d: number,
  logFactorials: LogFactorials = sharedLogFactorials,
): number {
  const table = tableDistribution(a, b, c, d, logFactorials);
  if (table === undefined) return 1;
  const bound = table.logP(a) + 1e-7;
  let p = 0;
  for (let x = table.low; x <= table.high; x++) {
    const lp = table.logP(x);
    if (lp <= bound) p += Math.exp(lp);
  }
  return Math.min(1, p);
}

/**
 * One-sided Fisher exact test of [[a, b], [c, d]] for a positive association (the first row's share of the
 * first column is higher): the probability, with the margins fixed, of a top-left cell of at least `a`.
 */
export function fisherExactGreater(
  a: number,
  b: number,
  c: number,
  d: number,
  logFactorials: LogFactorials = sharedLogFactorials,
): number {
  const table = tableDistribution(a, b, c, d, logFactorials);
  if (table === undefined) return 1;
  let p = 0;
  for (let x = a; x <= table.high; x++) p += Math.exp(table.logP(x));
  return Math.min(1, p);
}

/**
 * Benjamini-Hochberg adjusted p-values (q-values), in the input's order: q(i) = min over ranks j >= rank(i)
 * of p(j)·m/j, capped at 1. Rejecting every q <= alpha controls the false discovery rate at alpha.
 */
export function benjaminiHochberg(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const q = new Array<number>(m).fill(1);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const [p, index] = order[rank - 1] as readonly [number, number];
    running = Math.min(running, (p * m) / rank);
    q[index] = Math.min(1, running);
  }
  return q;
}

/** Median of the values (mean of the two middle ones for an even count); undefined when empty. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  // A typed array sorts numerically, natively.
  const sorted = Float64Array.from(values).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The q-quantile (0..1) of ascending-sorted values by the nearest-rank method; undefined when empty. */
export function quantileSorted(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1];
}

/** Precision, recall and F1 of a rule that flags `flagged` accounts, `hits` of them converters, among `positives` converters. */
export function precisionRecall(
  hits: number,
  flagged: number,
  positives: number,
): { precision: number | undefined; recall: number | undefined; f1: number | undefined } {
  const precision = flagged > 0 ? hits / flagged : undefined;
  const recall = positives > 0 ? hits / positives : undefined;
  const f1 =
    precision !== undefined && recall !== undefined && precision + recall > 0
      ? (2 * precision * recall) / (precision + recall)
      : undefined;
  return { precision, recall, f1 };
}
