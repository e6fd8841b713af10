import { describe, expect, it } from 'vitest';
import type { PublishedTransition } from './pql-bus.js';
import { InProcessBus } from './in-process-bus.js';

const published: PublishedTransition = {
  transition: {
    kind: 'expired',
    accountId: 'a1',
    definitionId: 'd1',
    definitionVersion: 1,
    qualifiedAt: 1,
    expiredAt: 2,
  },
  detectedAt: 3,
  receivedAt: undefined,
};

describe('InProcessBus', () => {
  it('delivers to every subscriber until it unsubscribes', () => {
    const bus = new InProcessBus();
    const a: PublishedTransition[] = [];
    const b: PublishedTransition[] = [];
    const offA = bus.subscribe((p) => a.push(...p));
    bus.subscribe((p) => b.push(...p));
    bus.publish([published]);
    offA();
    bus.publish([published]);
    expect([a.length, b.length, bus.subscriberCount()]).toEqual([1, 2, 1]);
  });

  it('isolates a throwing subscriber from the others and reports it', () => {
    const errors: unknown[] = [];
    const bus = new InProcessBus((e) => errors.push(e));
    const seen: PublishedTransition[] = [];
    bus.subscribe(() => {
      throw new Error('broken');
    });
    bus.subscribe((p) => seen.push(...p));
    bus.publish([published]);
    expect(seen).toEqual([published]);
    expect(errors).toHaveLength(1);
  });
});
