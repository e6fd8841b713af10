/** One buffered item with its arrival position and its own stream sequence (for acknowledgement). */
interface Entry<T> {
  /** Stream sequence of the user-stream message whose processing emitted the item (its arrival). */
  readonly order: number;
  /** Position among the items that one user message emitted (an event and the ones it released). */
  readonly sub: number;
  /** Stream sequence of the item itself in the account stream. */
  readonly seq: number;
  readonly item: T;
}

/**
 * Puts an account partition's input back into ingest arrival order. Account events come from several user
 * partitions, each in its own order, interleaved by how fast their workers run. Every event carries the
 * user-stream sequence of the message that produced it (one stream, so one global arrival order), and each
 * user partition sends marks: "everything of mine up to user-stream sequence S is published". An item is
 * released once every user partition has marked past its position, in (position, sub) order, so the engine
 * sees exactly the order one process would have seen, however the stages were scheduled. Deterministic:
 * the same input sequence releases the same output sequence.
 */
export class ArrivalOrderBuffer<T> {
  private readonly through: number[];
  private readonly heap: Entry<T>[] = [];

  constructor(userPartitions: number) {
    this.through = Array.from({ length: userPartitions }, () => 0);
  }

  /** Buffers an item with its arrival position (`order`, `sub`) and its own stream sequence. */
  add(item: T, order: number, sub: number, seq: number): void {
    const heap = this.heap;
    heap.push({ order, sub, seq, item });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Entry<T>, heap[parent] as Entry<T>)) break;
      [heap[i], heap[parent]] = [heap[parent] as Entry<T>, heap[i] as Entry<T>];
      i = parent;
    }
  }

  /** Records that user partition `partition` has published everything up to user-stream sequence `through`. */
  mark(partition: number, through: number): void {
    if (partition < 0 || partition >= this.through.length) return;
    // Marks only move forward: a stale one (from an owner that lost its lease) says less, never more.
    if (through > (this.through[partition] as number)) this.through[partition] = through;
  }

  /** The user-stream sequence up to which every user partition has published. */
  watermark(): number {
    let low = Number.POSITIVE_INFINITY;
    for (const through of this.through) if (through < low) low = through;
    return low;
  }

  /** Removes and returns, in arrival order, every buffered item at or before the watermark. */
  release(): T[] {
    const limit = this.watermark();
    const out: T[] = [];
    while (this.heap.length > 0 && (this.heap[0] as Entry<T>).order <= limit) out.push(this.pop());
    return out;
  }

  /** The smallest account-stream sequence still buffered, or undefined when empty. */
  minSeq(): number | undefined {
    let min: number | undefined;
    for (const entry of this.heap) if (min === undefined || entry.seq < min) min = entry.seq;
    return min;
  }

  /** Items waiting for the watermark. */
  get size(): number {
    return this.heap.length;
  }

  private pop(): T {
    const heap = this.heap;
    const top = heap[0] as Entry<T>;
    const last = heap.pop() as Entry<T>;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l] as Entry<T>, heap[m] as Entry<T>)) m = l;
        if (r < heap.length && before(heap[r] as Entry<T>, heap[m] as Entry<T>)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as Entry<T>, heap[i] as Entry<T>];
        i = m;
      }
    }
    return top.item;
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.order < b.order || (a.order === b.order && a.sub < b.sub);
}
