import type { ProductEvent } from '../core/events/event.js';

/** Partitions used when none are configured. */
export const DEFAULT_PARTITIONS = 16;

/**
 * The partition of a key: FNV-1a (32-bit) of its UTF-16 code units, mod `partitions`. Stable across
 * processes, versions and platforms, so every node routes a user or account to the same partition.
 */
export function partitionOf(key: string, partitions: number): number {
  return hash32(key) % partitions;
}

/** FNV-1a (32-bit, unsigned) of a string's UTF-16 code units. */
export function hash32(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The worker that should own `unit` among `workers` (rendezvous hashing: the highest hash of worker and
 * unit wins), so a worker joining or leaving moves only about 1/n of the units; undefined with no workers.
 */
export function ownerOf(unit: string, workers: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const worker of workers) {
    // Mixed again so that similar worker ids do not rank units alike.
    const score = hash32(`${hash32(worker)}/${unit}/${worker}`);
    if (score > bestScore || (score === bestScore && best !== undefined && worker < best)) {
      best = worker;
      bestScore = score;
    }
  }
  return best;
}

/**
 * The id a product event is partitioned by in the identity stage: its `userId`, else its `anonymousId`
 * (parseEvent guarantees one of them). An alias goes with its `userId`, the id it links to.
 */
export function userKeyOf(event: ProductEvent): string {
  return (event.userId ?? event.anonymousId) as string;
}

/** Thrown when a partition count is unusable, naming where it came from. */
export class PartitionCountError extends Error {
  /** Creates the error for the value `value` read from `source`. */
  constructor(
    readonly source: string,
    readonly value: string,
  ) {
    super(`${source}: expected a whole number of partitions from 1 to 1024, got ${JSON.stringify(value)}`);
    this.name = 'PartitionCountError';
  }
}

/** Parses a partition count (1..1024) from configuration; undefined or empty gives the default. */
export function parsePartitionCount(value: string | undefined, source: string): number {
  if (value === undefined || value.trim() === '') return DEFAULT_PARTITIONS;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new PartitionCountError(source, value);
  return n;
}
