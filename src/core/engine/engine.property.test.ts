import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEngine } from './create-engine.js';
import type { Transition } from './transition.js';
import type { ProductEvent } from '../events/event.js';
import type { Definition } from '../definitions/definition.js';
import { DAY, HOUR, T0, definition } from '../../test-support/builders.js';

const MINUTE = 60_000;
const ACCOUNTS = ['a1', 'a2', 'a3'];
const NAMES = ['A', 'B', 'C'];

interface RawEvent {
  readonly account: number;
  readonly user: number;
  readonly kind: 'track' | 'page' | 'group';
  readonly name: number;
  readonly minute: number;
  readonly count: number;
}

const eventWithin = (maxMinute: number): fc.Arbitrary<RawEvent> =>
  fc.record({
    account: fc.integer({ min: 0, max: 2 }),
    user: fc.integer({ min: 0, max: 2 }),
    kind: fc.constantFrom<RawEvent['kind']>('track', 'track', 'track', 'page', 'group'),
    name: fc.integer({ min: 0, max: 2 }),
    minute: fc.integer({ min: 0, max: maxMinute }),
    count: fc.integer({ min: 0, max: 100 }),
  });
const rawEvent = eventWithin(3 * 24 * 60);
/** Dense streams (half a day), where an hour of lateness reorders a lot. */
const denseEvent = eventWithin(12 * 60);

/** Builds product events with unique ids; each user belongs to one account, traits never change. */
function toEvents(raw: readonly RawEvent[]): ProductEvent[] {
  return raw.map((r, i) => {
    const accountId = ACCOUNTS[r.account] as string;
    const base = {
      messageId: `m${i}`,
      userId: `${accountId}-u${r.user}`,
      anonymousId: undefined,
      timestamp: T0 + r.minute * MINUTE,
    };
    if (r.kind === 'group') {
      return {
        ...base,
        type: 'group',
        contextGroupId: undefined,
        groupId: accountId,
        traits: { employees: 10 + r.account },
        traitsOnly: false,
      };
    }
    if (r.kind === 'page')
      return { ...base, type: 'page', contextGroupId: accountId, name: NAMES[r.name], properties: {} };
    return {
      ...base,
      type: 'track',
      contextGroupId: accountId,
      event: NAMES[r.name] as string,
      properties: { count: r.count, k: r.count % 3 },
    };
  });
}

/** Definitions whose truth only grows with more inputs: no not/exclude, windows all or rolling, lower bounds. */
const monotoneDefinitions: Definition[] = [
  definition({ id: 'count-all', signals: { s: { event: 'A', count: { gte: 3 } } }, qualify: 's' }),
  definition({
    id: 'count-rolling',
    signals: { s: { event: ['A', 'B'], count: { gte: 3 }, window: '6h' } },
    qualify: 's',
  }),
  definition({
    id: 'sum-and-fit',
    fit: { trait: 'employees', gte: 11 },
    signals: { s: { event: 'B', sum: 'properties.count', gte: 150, window: '1d' } },
    qualify: 's',
  }),
  definition({
    id: 'distinct',
    signals: { s: { event: 'C', distinct: 'properties.k', gte: 2 } },
    qualify: 's',
  }),
  definition({ id: 'users', signals: { s: { distinct_users: { gte: 2 }, window: '12h' } }, qualify: 's' }),
  definition({ id: 'funnel', signals: { s: { funnel: ['A', 'B', 'C'], reached: 3 } }, qualify: 's' }),
  definition({
    id: 'any-of',
    signals: { x: { event: 'A', count: { gt: 4 } }, y: { page: ['B'], count: { gte: 2 }, window: '1h' } },
    qualify: { any: ['x', 'y'] },
  }),
];

/** Adds negation, anchored windows, returned_within and expiry: live equals replay only for in-order accounts. */
const allDefinitions: Definition[] = [
  ...monotoneDefinitions,
  definition({
    id: 'not-returned',
    signals: { first: { event: 'A' }, back: { returned_within: '1d', after: 'first' } },
    qualify: { all: ['first', { not: 'back' }] },
  }),
  definition({
    id: 'anchored',
    signals: {
      early: { event: 'B', count: { gte: 2 }, within: '1d of signup' },
      after: { event: 'C', count: { gte: 1 }, within: '12h', after: 'early' },
    },
    qualify: { all: ['early', 'after'] },
    exclude: { trait: 'employees', eq: 12 },
  }),
  definition({
    id: 'expiring',
    signals: { s: { event: 'A', count: { gte: 1 }, window: '6h' } },
    qualify: 's',
    expire: '12h',
  }),
  definition({
    id: 'quiet',
    signals: { s: { event: 'A', count: { lt: 2 }, window: '6h' }, seen: { event: 'B' } },
    qualify: { all: ['seen', 's'] },
  }),
];

/** Runs events in the given order; with `tickEvery`, ticks (event time minus lateness) between events as a live server would. */
function runAll(definitions: Definition[], events: readonly ProductEvent[], tickEvery = 0): Transition[] {
  const engine = createEngine({ definitions, dedupeWindowMs: Infinity });
  const out: Transition[] = [];
  let clock = Number.NEGATIVE_INFINITY;
  events.forEach((e, i) => {
    out.push(...engine.ingest(e));
    clock = Math.max(clock, e.timestamp);
    if (tickEvery > 0 && i % tickEvery === 0) out.push(...engine.tick(clock - HOUR));
  });
  out.push(...engine.tick(T0 + 10 * DAY));
  return out;
}

function timeOrder(events: readonly ProductEvent[]): ProductEvent[] {
  return events
    .map((e, i) => ({ e, i }))
    .sort((x, y) => x.e.timestamp - y.e.timestamp || x.i - y.i)
    .map((x) => x.e);
}

/** Final qualifiedAt per (account, definition) after applying corrections; one entry per qualification. */
function finalQualifications(transitions: readonly Transition[]): string[] {
  const latest = new Map<string, number[]>();
  for (const t of transitions) {
    const key = `${t.accountId}/${t.definitionId}`;
    if (t.kind === 'qualified') latest.set(key, [...(latest.get(key) ?? []), t.qualifiedAt]);
    if (t.kind === 'corrected') {
      const list = latest.get(key) as number[];
      list[list.length - 1] = t.qualifiedAt;
    }
  }
  return [...latest.entries()].map(([key, times]) => `${key}@${times.join(',')}`).sort();
}

describe('engine invariants (property tests)', () => {
  it('a duplicate delivery changes nothing', () => {
    fc.assert(
      fc.property(
        fc.array(rawEvent, { minLength: 1, maxLength: 60 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (raw, picks) => {
          const events = timeOrder(toEvents(raw));
          const withDuplicates = [...events];
          for (const pick of picks) {
            const original = events[pick % events.length] as ProductEvent;
            const at = Math.min(withDuplicates.length, withDuplicates.indexOf(original) + 1 + (pick % 7));
            withDuplicates.splice(at, 0, { ...original });
          }
          expect(runAll(allDefinitions, withDuplicates)).toEqual(runAll(allDefinitions, events));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('live detection equals a replay in time order when each account’s events arrive in time order', () => {
    fc.assert(
      fc.property(
        fc.array(rawEvent, { minLength: 1, maxLength: 80 }),
        fc.array(fc.nat(2), { minLength: 3, maxLength: 3 }),
        fc.integer({ min: 1, max: 5 }),
        (raw, lanes, tickEvery) => {
          const sorted = timeOrder(toEvents(raw));
          // Keep cross-account disorder within the allowed lateness, as the live server's ticks assume.
          for (let i = 1; i < sorted.length; i++) if ((sorted[i] as ProductEvent).timestamp < 0) return;
          // Interleave accounts (each account delayed by its own constant, at most the allowed lateness),
          // keeping each account's own order.
          const delayOf = (e: ProductEvent): number => {
            const account = ACCOUNTS.indexOf((e.type === 'group' ? e.groupId : e.contextGroupId) as string);
            return ((lanes[account] ?? 0) * 30 * MINUTE) % (HOUR + 1);
          };
          const live = sorted
            .map((e, i) => ({ e, i, arrive: e.timestamp + delayOf(e) }))
            .sort((x, y) => x.arrive - y.arrive || x.i - y.i)
            .map((x) => x.e);
          const key = (t: Transition): string => JSON.stringify(t);
          const disorder = live.reduce(
            (acc, e) => ({
              max: Math.max(acc.max, e.timestamp),
              worst: Math.max(acc.worst, acc.max - e.timestamp),
            }),
            { max: Number.NEGATIVE_INFINITY, worst: 0 },
          ).worst;
          const ticks = disorder <= HOUR ? tickEvery : 0;
          expect(runAll(allDefinitions, live, ticks).map(key).sort()).toEqual(
            runAll(allDefinitions, sorted).map(key).sort(),
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it('any arrival order within the allowed lateness qualifies the same accounts at the same qualifiedAt', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ raw: denseEvent, delay: fc.integer({ min: 0, max: 60 }) }), {
          minLength: 1,
          maxLength: 80,
        }),
        (items) => {
          const events = toEvents(items.map((i) => i.raw));
          const arrival = events
            .map((e, i) => ({ e, arrive: e.timestamp + (items[i]?.delay ?? 0) * MINUTE, i }))
            .sort((x, y) => x.arrive - y.arrive || x.i - y.i)
            .map((x) => x.e);
          const outOfOrder = runAll(monotoneDefinitions, arrival);
          const inOrder = runAll(monotoneDefinitions, timeOrder(events));
          expect(finalQualifications(outOfOrder)).toEqual(finalQualifications(inOrder));
          // One qualification per account and definition id (no expiry in this family).
          expect(outOfOrder.filter((t) => t.kind === 'qualified').length).toBe(
            finalQualifications(outOfOrder).length,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('qualifies at most once per account and definition id between expiries', () => {
    fc.assert(
      fc.property(fc.array(rawEvent, { minLength: 1, maxLength: 80 }), (raw) => {
        const transitions = runAll(allDefinitions, timeOrder(toEvents(raw)));
        const open = new Set<string>();
        for (const t of transitions) {
          const key = `${t.accountId}/${t.definitionId}`;
          if (t.kind === 'qualified') {
            expect(open.has(key)).toBe(false);
            open.add(key);
          }
          if (t.kind === 'expired') open.delete(key);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('a replay of the same log twice gives the same transitions (determinism)', () => {
    fc.assert(
      fc.property(fc.array(rawEvent, { maxLength: 60 }), (raw) => {
        const events = timeOrder(toEvents(raw));
        expect(runAll(allDefinitions, events)).toEqual(runAll(allDefinitions, events));
      }),
      { numRuns: 50 },
    );
  });
});

describe('history folding', () => {
  const long = fc.array(
    fc.record({
      account: fc.integer({ min: 0, max: 1 }),
      user: fc.integer({ min: 0, max: 4 }),
      kind: fc.constantFrom<RawEvent['kind']>('track', 'track', 'track', 'page', 'group'),
      name: fc.integer({ min: 0, max: 2 }),
      minute: fc.integer({ min: 0, max: 20 * 24 * 60 }),
      count: fc.integer({ min: 0, max: 100 }),
    }),
    { minLength: 150, maxLength: 600 },
  );
  const folding: Definition[] = [
    ...allDefinitions,
    definition({
      id: 'all-time-and-rolling',
      signals: {
        total: { event: ['A', 'B'], sum: 'properties.count', gte: 2000 },
        recent: { event: ['A', 'B'], count: { gte: 12 }, window: '1d' },
        calls: { event: 'A', count: { gte: 40 } },
      },
      qualify: { all: ['total', 'recent', 'calls'] },
      expire: '2d',
    }),
  ];

  it('folding old entries into running totals changes no transition and no current explanation', () => {
    fc.assert(
      fc.property(long, (raw) => {
        const events = timeOrder(toEvents(raw));
        const run = (foldHistory: boolean): { transitions: Transition[]; explained: unknown[] } => {
          const engine = createEngine({ definitions: folding, dedupeWindowMs: Infinity, foldHistory });
          const transitions: Transition[] = [];
          for (const e of events) transitions.push(...engine.ingest(e));
          transitions.push(...engine.tick(T0 + 30 * DAY));
          const explained = ACCOUNTS.flatMap((a) => folding.map((d) => engine.explain(a, d.id)));
          return { transitions, explained };
        };
        expect(run(true)).toEqual(run(false));
      }),
      { numRuns: 60 },
    );
  });
});
