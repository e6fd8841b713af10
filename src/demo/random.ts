const HEX: readonly string[] = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, '0'));
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const TWO_POW_32 = 4_294_967_296;

/** A seeded pseudo-random source with the distributions the demo world draws from; it never reads `Math.random` or a clock. */
export interface Random {
  /** A float in [0, 1). */
  next(): number;
  /** An unsigned 32-bit integer. */
  uint32(): number;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** A float in [min, max). */
  float(min: number, max: number): number;
  /** True with the given probability. */
  chance(probability: number): boolean;
  /** One element, uniformly; throws on an empty array. */
  pick<T>(items: readonly T[]): T;
  /** One element, with probability proportional to its weight; throws when no weight is positive. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T;
  /** A normally distributed float (Box-Muller). */
  normal(mean?: number, sd?: number): number;
  /** exp(normal(mu, sigma)): a heavy-tailed positive float whose median is exp(mu). */
  logNormal(mu: number, sigma: number): number;
  /** An exponentially distributed float with the given mean. */
  exponential(mean: number): number;
  /** A Poisson-distributed count (Knuth below lambda 30, normal approximation above). */
  poisson(lambda: number): number;
  /** Shuffles in place (Fisher-Yates) and returns the same array. */
  shuffle<T>(items: T[]): T[];
  /** A version-4-shaped UUID built from 128 bits of this stream. */
  uuid(): string;
  /** `length` characters of [0-9A-Za-z], like the tail of a Stripe id. */
  token(length: number): string;
}

function fmix32(input: number): number {
  let h = input | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Mixes integers into one 32-bit seed, so streams derived from (seed, account, purpose) are independent of each other. */
export function mixSeed(...parts: readonly number[]): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    // Fold values above 32 bits in too, so large seeds do not collide with their low bits.
    const high = Math.floor(part / TWO_POW_32);
    h = fmix32(Math.imul(h ^ (part >>> 0), 0x01000193) ^ high);
  }
  return h;
}

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 128-bit state, passes PractRand, ~1 ns a draw. */
class Sfc32 implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | undefined = undefined;

  constructor(seed: number) {
    // splitmix32 spreads a single 32-bit seed over the four state words.
    let s = seed >>> 0;
    const split = (): number => {
      s = (s + 0x9e3779b9) | 0;
      return fmix32(s);
    };
    this.a = split();
    this.b = split();
    this.c = split();
    this.d = split();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.uint32() / TWO_POW_32;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('Random.pick: expected a non-empty array, got an empty one');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (let i = 0; i < items.length; i++) total += Math.max(0, weights[i] ?? 0);
    if (!(total > 0)) throw new RangeError('Random.weighted: expected at least one positive weight');
    let target = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      target -= Math.max(0, weights[i] ?? 0);
      if (target < 0) return items[i] as T;
    }
    // Floating-point rounding can leave a tiny remainder: fall back to the last positive weight.
    for (let i = items.length - 1; i >= 0; i--) if ((weights[i] ?? 0) > 0) return items[i] as T;
    return items[items.length - 1] as T;
  }

  normal(mean = 0, sd = 1): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return mean + sd * spare;
    }
    const u = 1 - this.next(); // (0, 1]: log(0) is never taken
    const v = this.next();
    const radius = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = radius * Math.sin(2 * Math.PI * v);
    return mean + sd * radius * Math.cos(2 * Math.PI * v);
  }

  logNormal(mu: number, sigma: number): number {
    return Math.exp(this.normal(mu, sigma));
  }

  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  poisson(lambda: number): number {
    if (!(lambda > 0)) return 0;
    if (lambda >= 30) return Math.max(0, Math.round(this.normal(lambda, Math.sqrt(lambda))));
    const limit = Math.exp(-lambda);
    let count = 0;
    let product = this.next();
    while (product > limit) {
      count++;
      product *= this.next();
    }
    return count;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  }

  uuid(): string {
    const a = this.uint32();
    const b = (this.uint32() & 0xffff0fff) | 0x00004000;
    const c = ((this.uint32() & 0x3fffffff) | 0x80000000) >>> 0;
    const d = this.uint32();
    return (
      HEX[a >>> 24]! +
      HEX[(a >>> 16) & 255]! +
      HEX[(a >>> 8) & 255]! +
      HEX[a & 255]! +
      '-' +
      HEX[b >>> 24]! +
      HEX[(b >>> 16) & 255]! +
      '-' +
      HEX[(b >>> 8) & 255]! +
      HEX[b & 255]! +
      '-' +
      HEX[c >>> 24]! +
      HEX[(c >>> 16) & 255]! +
      '-' +
      HEX[(c >>> 8) & 255]! +
      HEX[c & 255]! +
      HEX[d >>> 24]! +
      HEX[(d >>> 16) & 255]! +
      HEX[(d >>> 8) & 255]! +
      HEX[d & 255]!
    );
  }

  token(length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += BASE62[this.uint32() % 62];
    return out;
  }
}

/** Creates a seeded sfc32 stream; the same seed always yields the same sequence on every platform. */
export function createRandom(seed: number): Random {
  return new Sfc32(seed);
}
