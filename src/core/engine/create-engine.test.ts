import { describe, expect, it } from 'vitest';
import { createEngine, type Engine } from './create-engine.js';
import type { Transition } from './transition.js';
import type { ProductEvent } from '../events/event.js';
import { DAY, HOUR, T0, definition, group, page, track } from '../../test-support/builders.js';

function run(engine: Engine, events: readonly ProductEvent[]): Transition[] {
  const out: Transition[] = [];
  for (const e of events) out.push(...engine.ingest(e));
  return out;
}

const seedExample = definition({
  id: 'devtool-activated',
  fit: {
    all: [
      { trait: 'employees', gte: 10 },
      { trait: 'country', in: ['US', 'CA'] },
    ],
  },
  signals: {
    first_call: { event: 'API Call Made', count: { gte: 1 } },
    returned: { returned_within: '7d', after: 'first_call' },
    volume: { event: 'Events Processed', sum: 'properties.count', gte: 1000, window: '30d' },
  },
  qualify: { all: ['first_call', 'returned', 'volume'] },
});

describe('createEngine: qualification', () => {
  it('qualifies at the event time that completes the definition, once, with every clause explained', () => {
    const engine = createEngine({ definitions: [seedExample] });
    const out = run(engine, [
      group('a1', T0, { employees: 25, country: 'US' }),
      track('a1', 'API Call Made', T0 + HOUR, { messageId: 'call-1' }),
      track('a1', 'Events Processed', T0 + 2 * HOUR, { properties: { count: 600 }, messageId: 'ep-1' }),
      track('a1', 'Events Processed', T0 + DAY + HOUR, { properties: { count: 500 }, messageId: 'ep-2' }),
      track('a1', 'Events Processed', T0 + DAY + 2 * HOUR, { properties: { count: 500 }, messageId: 'ep-3' }),
    ]);
    expect(out).toHaveLength(1);
    const pql = out[0];
    if (pql?.kind !== 'qualified') throw new Error('expected a qualification');
    expect(pql.accountId).toBe('a1');
    expect(pql.definitionId).toBe('devtool-activated');
    expect(pql.definitionVersion).toBe(1);
    expect(pql.qualifiedAt).toBe(T0 + DAY + HOUR);
    expect(pql.triggerEventId).toBe('ep-2');
    const byPath = Object.fromEntries(pql.explanation.clauses.map((c) => [c.path, c]));
    expect(byPath['fit.all[0]']).toMatchObject({ holds: true, value: 25, threshold: '>= 10' });
    expect(byPath['fit.all[1]']).toMatchObject({ holds: true, value: 'US', threshold: 'in [US, CA]' });
    expect(byPath['signals.first_call']).toMatchObject({
      holds: true,
      value: 1,
      eventIds: ['call-1'],
      eventCount: 1,
    });
    expect(byPath['signals.returned']).toMatchObject({ holds: true, value: 1, firstHeldAt: T0 + DAY + HOUR });
    expect(byPath['signals.volume']).toMatchObject({
      holds: true,
      value: 1100,
      eventIds: ['ep-1', 'ep-2'],
      eventCount: 2,
      threshold: 'sum of properties.count >= 1000 in the last 30d',
    });
    expect(pql.explanation.missing).toEqual([]);
  });

  it('fires once when the threshold is crossed twice', () => {
    const def = definition({
      signals: { calls: { event: 'API Call Made', count: { gte: 2 } } },
      qualify: 'calls',
    });
    const engine = createEngine({ definitions: [def] });
    const events = [0, 1, 2, 3, 4, 5].map((i) => track('a1', 'API Call Made', T0 + i * HOUR));
    const out = run(engine, events);
    expect(out.map((t) => [t.kind, t.kind === 'qualified' ? t.qualifiedAt : 0])).toEqual([
      ['qualified', T0 + HOUR],
    ]);
  });

  it('does not qualify an account outside the ICP, and qualifies it when a later group call fits', () => {
    const engine = createEngine({ definitions: [seedExample] });
    const before = run(engine, [
      group('a1', T0, { employees: 5, country: 'US' }),
      track('a1', 'API Call Made', T0 + HOUR),
      track('a1', 'Events Processed', T0 + DAY + HOUR, { properties: { count: 2000 } }),
    ]);
    expect(before).toEqual([]);
    const after = run(engine, [group('a1', T0 + 2 * DAY, { employees: 12 })]);
    expect(after.map((t) => t.kind === 'qualified' && t.qualifiedAt)).toEqual([T0 + 2 * DAY]);
  });

  it('a duplicate message id changes nothing', () => {
    const def = definition({
      signals: { calls: { event: 'API Call Made', count: { gte: 2 } } },
      qualify: 'calls',
    });
    const engine = createEngine({ definitions: [def] });
    const first = track('a1', 'API Call Made', T0, { messageId: 'same' });
    expect(run(engine, [first, first, { ...first }])).toEqual([]);
    expect(engine.stats().duplicates).toBe(2);
    expect(engine.explain('a1', 'test-def')?.clauses[0]?.value).toBe(1);
  });
});

describe('createEngine: windows', () => {
  it('a rolling window counts the last N up to the evaluation time; an event exactly N old is out', () => {
    const def = definition({
      signals: { burst: { event: 'Workflow Run', count: { gte: 3 }, window: '1d' } },
      qualify: 'burst',
    });
    const engine = createEngine({ definitions: [def] });
    const out = run(engine, [
      track('a1', 'Workflow Run', T0),
      track('a1', 'Workflow Run', T0 + 12 * HOUR),
      track('a1', 'Workflow Run', T0 + DAY), // T0 slides out exactly now: 2 in window
      track('a1', 'Workflow Run', T0 + DAY + HOUR), // 3 in (T0+1h, T0+25h]
    ]);
    expect(out.map((t) => t.kind === 'qualified' && t.qualifiedAt)).toEqual([T0 + DAY + HOUR]);
  });

  it('returned_within needs activity on a later UTC day, at most N after the anchor', () => {
    const def = definition({
      signals: {
        first_call: { event: 'API Call Made' },
        returned: { returned_within: '7d', after: 'first_call' },
      },
      qualify: 'returned',
    });
    const sameDay = createEngine({ definitions: [def] });
    expect(
      run(sameDay, [track('a', 'API Call Made', T0 + 20 * HOUR), page('a', 'Docs', T0 + 23 * HOUR)]),
    ).toEqual([]);
    const nextDayEarly = createEngine({ definitions: [def] });
    // 2 hours later, but on the next UTC day: counts.
    const out = run(nextDayEarly, [
      track('a', 'API Call Made', T0 + 23 * HOUR),
      page('a', 'Docs', T0 + 25 * HOUR),
    ]);
    expect(out.map((t) => t.kind === 'qualified' && t.qualifiedAt)).toEqual([T0 + 25 * HOUR]);
    const tooLate = createEngine({ definitions: [def] });
    expect(run(tooLate, [track('a', 'API Call Made', T0), page('a', 'Docs', T0 + 7 * DAY + 1)])).toEqual([]);
    const lastMoment = createEngine({ definitions: [def] });
    expect(run(lastMoment, [track('a', 'API Call Made', T0), page('a', 'Docs', T0 + 7 * DAY)])).toHaveLength(
      1,
    );
  });

  it('distinct_users counts users with activity; a group call alone does not make a user active', () => {
    const def = definition({
      signals: { team: { distinct_users: { gte: 3 }, window: '30d' } },
      qualify: 'team',
    });
    const engine = createEngine({ definitions: [def] });
    const out = run(engine, [
      track('a', 'Project Created', T0, { userId: 'u1' }),
      group('a', T0 + HOUR, {}, 'u2'),
      group('a', T0 + HOUR, {}, 'u3'),
      track('a', 'Project Created', T0 + 2 * HOUR, { userId: 'u2' }),
      track('a', 'Project Created', T0 + 3 * HOUR, { userId: 'u1' }),
      page('a', 'Docs', T0 + 4 * HOUR, 'u3'),
    ]);
    expect(out.map((t) => t.kind === 'qualified' && t.qualifiedAt)).toEqual([T0 + 4 * HOUR]);
  });

  it('a funnel counts steps in strict time order, within N of signup', () => {
    const def = definition({
      signals: {
        workflow: {
          funnel: ['Project Created', 'Workflow Created', 'Step Added', 'Workflow Run'],
          reached: 4,
          within: '14d of signup',
        },
      },
      qualify: 'workflow',
    });
    const inOrder = createEngine({ definitions: [def] });
    const out = run(inOrder, [
      group('a', T0),
      track('a', 'Workflow Created', T0 + HOUR), // before its predecessor: not a step yet
      track('a', 'Project Created', T0 + 2 * HOUR),
      track('a', 'Workflow Created', T0 + 3 * HOUR),
      track('a', 'Step Added', T0 + 3 * HOUR), // same time as the previous step: not strictly later
      track('a', 'Step Added', T0 + 4 * HOUR),
      track('a', 'Workflow Run', T0 + 5 * HOUR),
    ]);
    expect(out.map((t) => t.kind === 'qualified' && t.qualifiedAt)).toEqual([T0 + 5 * HOUR]);
    const late = createEngine({ definitions: [def] });
    const lateOut = run(late, [
      group('a', T0),
      track('a', 'Project Created', T0 + HOUR),
      track('a', 'Workflow Created', T0 + 2 * HOUR),
      track('a', 'Step Added', T0 + 3 * HOUR),
      track('a', 'Workflow Run', T0 + 14 * DAY), // sign-up + 14d is outside the window
    ]);
    expect(lateOut).toEqual([]);
    expect(late.explain('a', 'test-def')?.clauses[0]).toMatchObject({
      value: 3,
      holds: false,
      progress: 0.75,
    });
  });

  it('sign-up is the created_at trait when given, else the earliest attributed event', () => {
    const def = definition({
      signals: { early: { event: 'Workflow Run', count: { gte: 1 }, within: '1d of signup' } },
      qualify: 'early',
    });
    const byCreatedAt = createEngine({ definitions: [def] });
    const out = run(byCreatedAt, [
      group('a', T0 + 5 * DAY, { created_at: new Date(T0 + 5 * DAY - HOUR).toISOString() }),
      track('a', 'Workflow Run', T0 + 5 * DAY + 23 * HOUR), // sign-up + 1d exactly: outside
    ]);
    expect(out).toEqual([]);
    expect(byCreatedAt.accountSummary('a')?.signupAt).toBe(T0 + 5 * DAY - HOUR);
    const byFirstEvent = createEngine({ definitions: [def] });
    expect(
      run(byFirstEvent, [page('a', 'Home', T0), track('a', 'Workflow Run', T0 + 23 * HOUR)]),
    ).toHaveLength(1);
  });
});

describe('createEngine: exclusions, expiry and time', () => {
  const volume = {
    signals: { calls: { event: 'API Call Made', count: { gte: 1 }, window: '7d' } },
    qualify: 'calls',
  };

  it('exclude blocks a new qualification but never retracts one', () => {
    const def = definition({ ...volume, exclude: { any: [{ trait: 'paying', eq: true }] } });
    const engine = createEngine({ definitions: [def] });
    expect(run(engine, [group('a', T0, { paying: true }), track('a', 'API Call Made', T0 + HOUR)])).toEqual(
      [],
    );
    const b = run(engine, [
      track('b', 'API Call Made', T0 + HOUR),
      group('b', T0 + 2 * HOUR, { paying: true }),
    ]);
    expect(b.map((t) => t.kind)).toEqual(['qualified']);
  });

  it('expire counts from qualifiedAt; the account qualifies again only after it stopped holding', () => {
    const def = definition({ ...volume, expire: '30d' });
    const engine = createEngine({ definitions: [def] });
    const first = run(engine, [track('a', 'API Call Made', T0)]);
    expect(first.map((t) => t.kind)).toEqual(['qualified']);
    const expiry = engine.tick(T0 + 31 * DAY);
    expect(expiry).toEqual([
      {
        kind: 'expired',
        accountId: 'a',
        definitionId: 'test-def',
        definitionVersion: 1,
        qualifiedAt: T0,
        expiredAt: T0 + 30 * DAY,
      },
    ]);
    const again = run(engine, [track('a', 'API Call Made', T0 + 40 * DAY)]);
    expect(again.map((t) => t.kind === 'qualified' && t.qualifiedAt)).toEqual([T0 + 40 * DAY]);
  });

  it('an account still holding at expiry must stop holding before it qualifies again', () => {
    const def = definition({ ...volume, expire: '2d' });
    const engine = createEngine({ definitions: [def] });
    const out = run(engine, [
      track('a', 'API Call Made', T0),
      track('a', 'API Call Made', T0 + 3 * DAY), // expiry at T0+2d fires first; still holds: no re-qualification
      track('a', 'API Call Made', T0 + 20 * DAY), // window emptied at T0+10d, so it stopped holding: qualifies
    ]);
    expect(
      out.map((t) => [
        t.kind,
        t.kind === 'qualified' ? t.qualifiedAt : t.kind === 'expired' ? t.expiredAt : 0,
      ]),
    ).toEqual([
      ['qualified', T0],
      ['expired', T0 + 2 * DAY],
      ['qualified', T0 + 20 * DAY],
    ]);
  });

  it('a time-driven qualification (not returned within 7 days) takes the deadline as qualifiedAt', () => {
    const def = definition({
      signals: {
        first_call: { event: 'API Call Made' },
        returned: { returned_within: '7d', after: 'first_call' },
      },
      qualify: { all: ['first_call', { not: 'returned' }] },
    });
    const engine = createEngine({ definitions: [def] });
    expect(
      run(engine, [track('a', 'API Call Made', T0 + HOUR), track('b', 'API Call Made', T0 + HOUR)]),
    ).toEqual([]);
    expect(run(engine, [page('b', 'Home', T0 + 2 * DAY)])).toEqual([]);
    expect(engine.tick(T0 + 7 * DAY)).toEqual([]);
    const out = engine.tick(T0 + 9 * DAY);
    expect(
      out.map((t) => [
        t.accountId,
        t.kind === 'qualified' && t.qualifiedAt,
        t.kind === 'qualified' && t.triggerEventId,
      ]),
    ).toEqual([['a', T0 + 7 * DAY + HOUR, undefined]]);
  });
});

describe('createEngine: lateness', () => {
  const def = definition({
    signals: { calls: { event: 'API Call Made', count: { gte: 3 } } },
    qualify: 'calls',
  });

  it('a late event within the allowed lateness moves qualifiedAt earlier as a correction, without a new alert', () => {
    const engine = createEngine({ definitions: [def] });
    const out = run(engine, [
      track('a', 'API Call Made', T0),
      track('a', 'API Call Made', T0 + 10 * 60_000),
      track('a', 'API Call Made', T0 + 50 * 60_000), // qualifies here, the 3rd call
      track('a', 'API Call Made', T0 + 5 * 60_000), // late by 45 min: the 3rd call was really at T0+10min
    ]);
    expect(out.map((t) => t.kind)).toEqual(['qualified', 'corrected']);
    expect(out[1]).toMatchObject({ previousQualifiedAt: T0 + 50 * 60_000, qualifiedAt: T0 + 10 * 60_000 });
    expect(engine.stats().late).toBe(1);
  });

  it('an event later than the allowed lateness is applied on arrival and counted as too late', () => {
    const engine = createEngine({ definitions: [def] });
    const out = run(engine, [
      track('a', 'API Call Made', T0),
      track('a', 'API Call Made', T0 + 2 * HOUR),
      track('a', 'API Call Made', T0 + 30 * 60_000), // 90 min late: evaluated at the account's latest time
    ]);
    expect(out.map((t) => t.kind === 'qualified' && t.qualifiedAt)).toEqual([T0 + 2 * HOUR]);
    expect(engine.stats().tooLate).toBe(1);
  });
});

describe('createEngine: near-PQL view', () => {
  it('says which clause is missing and how far each is from its threshold', () => {
    const engine = createEngine({ definitions: [seedExample] });
    run(engine, [
      group('a', T0, { employees: 25, country: 'US' }),
      track('a', 'API Call Made', T0 + HOUR),
      track('a', 'Events Processed', T0 + 2 * HOUR, { properties: { count: 250 } }),
    ]);
    const near = engine.explain('a', 'devtool-activated');
    expect(near?.holds).toBe(false);
    expect(near?.missing).toEqual(['signals.returned', 'signals.volume']);
    expect(near?.clauses.find((c) => c.path === 'signals.volume')).toMatchObject({
      value: 250,
      progress: 0.25,
      holds: false,
    });
  });
});
