import { describe, expect, it } from 'vitest';
import { ArrivalOrderBuffer } from './arrival-order-buffer.js';

describe('ArrivalOrderBuffer', () => {
  it('releases nothing until every user partition has marked past an item', () => {
    const buffer = new ArrivalOrderBuffer<string>(2);
    buffer.add('a', 5, 0, 100);
    buffer.mark(0, 9);
    expect(buffer.release()).toEqual([]);
    buffer.mark(1, 4);
    expect(buffer.release()).toEqual([]);
    buffer.mark(1, 5);
    expect(buffer.release()).toEqual(['a']);
    expect(buffer.size).toBe(0);
  });

  it('releases in arrival order whatever order the partitions delivered in', () => {
    const buffer = new ArrivalOrderBuffer<string>(3);
    buffer.add('u2-seq7', 7, 0, 101);
    buffer.add('u0-seq3', 3, 0, 102);
    buffer.add('u1-seq5-released', 5, 1, 103);
    buffer.add('u1-seq5', 5, 0, 104);
    buffer.add('u0-seq9', 9, 0, 105);
    buffer.mark(0, 9);
    buffer.mark(1, 5);
    buffer.mark(2, 8);
    expect(buffer.release()).toEqual(['u0-seq3', 'u1-seq5', 'u1-seq5-released']);
    expect(buffer.minSeq()).toBe(101);
    buffer.mark(1, 20);
    expect(buffer.release()).toEqual(['u2-seq7']);
    buffer.mark(2, 20);
    expect(buffer.release()).toEqual(['u0-seq9']);
    expect(buffer.minSeq()).toBeUndefined();
  });

  it('ignores a mark that goes backwards (a stale owner) and one for an unknown partition', () => {
    const buffer = new ArrivalOrderBuffer<string>(1);
    buffer.add('x', 6, 0, 1);
    buffer.mark(0, 6);
    buffer.mark(0, 2);
    buffer.mark(5, 100);
    expect(buffer.watermark()).toBe(6);
    expect(buffer.release()).toEqual(['x']);
  });
});
