import { describe, expect, it } from 'vitest';
import type {
  AccountEvent,
  AliasEvent,
  GroupEvent,
  IdentifyEvent,
  PageEvent,
  TrackEvent,
} from '../events/event.js';
import { IdentityResolver } from './identity-resolver.js';

const T0 = Date.UTC(2024, 4, 1);
const MIN = 60_000;

interface Sender {
  readonly userId?: string;
  readonly anonymousId?: string;
  readonly contextGroupId?: string;
}

function base(id: string, at: number, sender: Sender) {
  return {
    messageId: id,
    userId: sender.userId,
    anonymousId: sender.anonymousId,
    timestamp: T0 + at * MIN,
    contextGroupId: sender.contextGroupId,
  };
}

function track(id: string, at: number, sender: Sender, event = 'API Call Made'): TrackEvent {
  return { ...base(id, at, sender), type: 'track', event, properties: { n: 1 } };
}

function page(id: string, at: number, sender: Sender, name = 'Pricing'): PageEvent {
  return { ...base(id, at, sender), type: 'page', name, properties: {} };
}

function identify(id: string, at: number, sender: Sender, traits: Record<string, unknown>): IdentifyEvent {
  return { ...base(id, at, sender), type: 'identify', traits };
}

function group(
  id: string,
  at: number,
  sender: Sender,
  groupId: string,
  traits: Record<string, unknown> = {},
  traitsOnly = false,
): GroupEvent {
  return { ...base(id, at, sender), type: 'group', groupId, traits, traitsOnly };
}

function alias(id: string, at: number, userId: string, previousId: string): AliasEvent {
  return { ...base(id, at, { userId }), type: 'alias', previousId };
}

/** Compact view of resolved events: messageId → accountId (user). */
function attributions(events: readonly AccountEvent[]): string[] {
  return events.map((e) => `${e.messageId}→${e.accountId} (${e.userId})`);
}

function resolveAll(
  resolver: IdentityResolver,
  events: Parameters<IdentityResolver['resolve']>[0][],
): string[] {
  return events.flatMap((e) => attributions(resolver.resolve(e)));
}

describe('IdentityResolver', () => {
  it('turns a track event of a member into one account event with the event name and properties', () => {
    const resolver = new IdentityResolver();
    resolver.resolve(group('g1', 0, { userId: 'u1' }, 'acc-a'));
    expect(resolver.resolve(track('t1', 5, { userId: 'u1' }))).toEqual([
      {
        kind: 'event',
        accountId: 'acc-a',
        userId: 'u1',
        messageId: 't1',
        type: 'track',
        name: 'API Call Made',
        timestamp: T0 + 5 * MIN,
        properties: { n: 1 },
        traits: undefined,
      },
    ]);
  });

  it('yields a group account event carrying the traits of a group call', () => {
    const resolver = new IdentityResolver();
    expect(resolver.resolve(group('g1', 0, { userId: 'u1' }, 'acc-a', { plan: 'pro' }))).toEqual([
      {
        kind: 'event',
        accountId: 'acc-a',
        userId: 'u1',
        messageId: 'g1',
        type: 'group',
        name: undefined,
        timestamp: T0,
        properties: {},
        traits: { plan: 'pro' },
      },
    ]);
  });

  it('names page and screen events by their name and identify events by nothing', () => {
    const resolver = new IdentityResolver();
    resolver.resolve(group('g1', 0, { userId: 'u1' }, 'acc-a'));
    const [viewed] = resolver.resolve(page('p1', 1, { userId: 'u1' }, 'Docs'));
    const [identified] = resolver.resolve(identify('i1', 2, { userId: 'u1' }, { email: 'a@acme.io' }));
    expect(viewed?.name).toBe('Docs');
    expect(viewed?.type).toBe('page');
    expect(identified).toEqual({
      kind: 'event',
      accountId: 'acc-a',
      userId: 'u1',
      messageId: 'i1',
      type: 'identify',
      name: undefined,
      timestamp: T0 + 2 * MIN,
      properties: { email: 'a@acme.io' },
      traits: undefined,
    });
  });

  it('attributes an event with context.groupId to that account, overriding membership', () => {
    const resolver = new IdentityResolver();
    expect(
      resolveAll(resolver, [
        group('g1', 0, { userId: 'u1' }, 'acc-a'),
        track('t1', 1, { userId: 'u1', contextGroupId: 'acc-b' }),
        track('t2', 2, { userId: 'u1' }),
      ]),
    ).toEqual(['g1→acc-a (u1)', 't1→acc-b (u1)', 't2→acc-a (u1)']);
    expect(resolver.memberships('u1')).toEqual([{ accountId: 'acc-a', since: T0 }]);
  });

  it('attributes an event with context.groupId at once even for a user with no account yet', () => {
    const resolver = new IdentityResolver();
    expect(resolveAll(resolver, [track('t1', 1, { anonymousId: 'a1', contextGroupId: 'acc-b' })])).toEqual([
      't1→acc-b (a1)',
    ]);
    expect(resolver.stats().pendingEvents).toBe(0);
  });

  it('switches a user in two accounts at the second group call, and sends a late earlier event to the first', () => {
    const resolver = new IdentityResolver();
    expect(
      resolveAll(resolver, [
        group('g1', 0, { userId: 'u1' }, 'acc-a'),
        track('t1', 10, { userId: 'u1' }),
        group('g2', 20, { userId: 'u1' }, 'acc-b'),
        track('t2', 30, { userId: 'u1' }),
        track('late', 15, { userId: 'u1' }),
        track('tie', 20, { userId: 'u1' }),
      ]),
    ).toEqual([
      'g1→acc-a (u1)',
      't1→acc-a (u1)',
      'g2→acc-b (u1)',
      't2→acc-b (u1)',
      'late→acc-a (u1)',
      'tie→acc-b (u1)',
    ]);
  });

  it('inserts a late group call in time order', () => {
    const resolver = new IdentityResolver();
    expect(
      resolveAll(resolver, [
        group('g1', 0, { userId: 'u1' }, 'acc-a'),
        group('g3', 30, { userId: 'u1' }, 'acc-c'),
        group('g2', 20, { userId: 'u1' }, 'acc-b'),
        track('t25', 25, { userId: 'u1' }),
        track('t10', 10, { userId: 'u1' }),
        track('t35', 35, { userId: 'u1' }),
      ]),
    ).toEqual([
      'g1→acc-a (u1)',
      'g3→acc-c (u1)',
      'g2→acc-b (u1)',
      't25→acc-b (u1)',
      't10→acc-a (u1)',
      't35→acc-c (u1)',
    ]);
    expect(resolver.memberships('u1')).toEqual([
      { accountId: 'acc-a', since: T0 },
      { accountId: 'acc-b', since: T0 + 20 * MIN },
      { accountId: 'acc-c', since: T0 + 30 * MIN },
    ]);
  });

  it('keeps only account switches when a user repeats group calls for the same account', () => {
    const resolver = new IdentityResolver();
    resolveAll(resolver, [
      group('g1', 10, { userId: 'u1' }, 'acc-a'),
      group('g2', 20, { userId: 'u1' }, 'acc-a'),
      group('g3', 5, { userId: 'u1' }, 'acc-a'),
    ]);
    expect(resolver.memberships('u1')).toEqual([{ accountId: 'acc-a', since: T0 + 5 * MIN }]);
  });

  it('holds events of a user with no account and releases them, in time order, before the first group event', () => {
    const resolver = new IdentityResolver();
    expect(
      resolveAll(resolver, [
        page('p1', 1, { anonymousId: 'a1' }),
        track('t3', 3, { anonymousId: 'a1' }),
        track('t2', 2, { anonymousId: 'a1' }),
      ]),
    ).toEqual([]);
    expect(resolver.stats()).toEqual({
      resolved: 0,
      pendingUsers: 1,
      pendingEvents: 3,
      dropped: 0,
      users: 1,
      links: 0,
    });
    expect(resolveAll(resolver, [group('g1', 10, { anonymousId: 'a1' }, 'acc-a')])).toEqual([
      'p1→acc-a (a1)',
      't2→acc-a (a1)',
      't3→acc-a (a1)',
      'g1→acc-a (a1)',
    ]);
    expect(resolver.stats()).toEqual({
      resolved: 4,
      pendingUsers: 0,
      pendingEvents: 0,
      dropped: 0,
      users: 1,
      links: 0,
    });
  });

  it('releases anonymous events before sign-up to the first account the user joins once identified', () => {
    const resolver = new IdentityResolver();
    expect(
      resolveAll(resolver, [
        page('p1', 1, { anonymousId: 'a1' }),
        identify('i1', 2, { userId: 'u1', anonymousId: 'a1' }, { email: 'x@acme.io' }),
        track('t1', 3, { userId: 'u1' }),
        group('g1', 4, { userId: 'u1' }, 'acc-a'),
        track('t2', 5, { anonymousId: 'a1' }),
      ]),
    ).toEqual(['p1→acc-a (u1)', 'i1→acc-a (u1)', 't1→acc-a (u1)', 'g1→acc-a (u1)', 't2→acc-a (u1)']);
  });

  it('sends a late event from before the first group call to the first account joined', () => {
    const resolver = new IdentityResolver();
    expect(
      resolveAll(resolver, [
        group('g1', 10, { userId: 'u1' }, 'acc-a'),
        group('g2', 20, { userId: 'u1' }, 'acc-b'),
        track('early', 1, { userId: 'u1' }),
      ]),
    ).toEqual(['g1→acc-a (u1)', 'g2→acc-b (u1)', 'early→acc-a (u1)']);
  });

  it('merges anonymous history into the user on alias, and resolves later anonymous events to the user', () => {
    const resolver = new IdentityResolver();
    expect(
      resolveAll(resolver, [
        track('t1', 1, { anonymousId: 'a1' }),
        identify('i1', 2, { anonymousId: 'a1' }, { email: 'ann@acme.io' }),
        group('g1', 3, { userId: 'u1' }, 'acc-a'),
      ]),
    ).toEqual(['g1→acc-a (u1)']);
    expect(resolveAll(resolver, [alias('al', 4, 'u1', 'a1')])).toEqual(['t1→acc-a (u1)', 'i1→acc-a (u1)']);
    expect(resolveAll(resolver, [track('t2', 5, { anonymousId: 'a1' })])).toEqual(['t2→acc-a (u1)']);
    expect(resolver.userTraits('u1')).toEqual({ email: 'ann@acme.io' });
    expect(resolver.userTraits('a1')).toEqual({ email: 'ann@acme.io' });
    expect(resolver.canonicalUserId('a1')).toBe('u1');
    expect(resolver.stats()).toEqual({
      resolved: 4,
      pendingUsers: 0,
      pendingEvents: 0,
      dropped: 0,
      users: 1,
      links: 1,
    });
  });

  it('merges the anonymous user memberships into the user on alias', () => {
    const resolver = new IdentityResolver();
    resolveAll(resolver, [group('g1', 1, { anonymousId: 'a1' }, 'acc-a'), track('t1', 2, { userId: 'u1' })]);
    expect(resolver.stats().pendingEvents).toBe(1);
    expect(resolveAll(resolver, [alias('al', 3, 'u1', 'a1')])).toEqual(['t1→acc-a (u1)']);
    expect(resolver.memberships('u1')).toEqual([{ accountId: 'acc-a', since: T0 + MIN }]);
  });

  it('follows an alias of an aliased user to the final user (links stay flat)', () => {
    const resolver = new IdentityResolver();
    resolveAll(resolver, [
      alias('al1', 0, 'u1', 'a1'),
      alias('al2', 1, 'u2', 'u1'),
      group('g1', 2, { userId: 'u2' }, 'acc-a'),
    ]);
    expect(
      resolveAll(resolver, [track('t1', 3, { anonymousId: 'a1' }), track('t2', 3, { userId: 'u1' })]),
    ).toEqual(['t1→acc-a (u2)', 't2→acc-a (u2)']);
  });

  it('keeps an anonymous id with the first user it was linked to', () => {
    const resolver = new IdentityResolver();
    resolveAll(resolver, [alias('al1', 0, 'u1', 'a1'), alias('al2', 1, 'u2', 'a1')]);
    expect(resolver.canonicalUserId('a1')).toBe('u1');
  });

  it('applies a traitsOnly group call to the account without making the sender a member', () => {
    const resolver = new IdentityResolver();
    expect(resolver.resolve(group('g1', 0, { userId: 'u1' }, 'acc-a', { employees: 50 }, true))).toEqual([
      {
        kind: 'event',
        accountId: 'acc-a',
        userId: 'u1',
        messageId: 'g1',
        type: 'group',
        name: undefined,
        timestamp: T0,
        properties: {},
        traits: { employees: 50 },
      },
    ]);
    expect(resolver.memberships('u1')).toEqual([]);
    expect(resolveAll(resolver, [track('t1', 1, { userId: 'u1' })])).toEqual([]);
    expect(resolver.stats().pendingEvents).toBe(1);
  });

  it('keeps user traits with the later identify call winning per field, whatever the arrival order', () => {
    const resolver = new IdentityResolver();
    resolveAll(resolver, [
      identify('i2', 20, { userId: 'u1' }, { email: 'new@acme.io' }),
      identify('i1', 10, { userId: 'u1' }, { email: 'old@acme.io', name: 'Ada' }),
    ]);
    expect(resolver.userTraits('u1')).toEqual({ email: 'new@acme.io', name: 'Ada' });
    expect(resolver.userTraits('nobody')).toBeUndefined();
  });

  it('bounds the pending buffer per user, dropping and counting the oldest events', () => {
    const resolver = new IdentityResolver({ maxPendingPerUser: 2 });
    resolveAll(resolver, [
      track('t1', 1, { anonymousId: 'a1' }),
      track('t2', 2, { anonymousId: 'a1' }),
      track('t3', 3, { anonymousId: 'a1' }),
    ]);
    expect(resolver.stats()).toEqual({
      resolved: 0,
      pendingUsers: 1,
      pendingEvents: 2,
      dropped: 1,
      users: 1,
      links: 0,
    });
    expect(resolveAll(resolver, [group('g1', 4, { anonymousId: 'a1' }, 'acc-a')])).toEqual([
      't2→acc-a (a1)',
      't3→acc-a (a1)',
      'g1→acc-a (a1)',
    ]);
  });

  it('yields nothing for an alias that releases no events', () => {
    const resolver = new IdentityResolver();
    expect(resolver.resolve(alias('al', 0, 'u1', 'a1'))).toEqual([]);
  });
});

describe('IdentityResolver user traits', () => {
  it('keeps only the traits alerts need (email, names, title, role), not every identify field', () => {
    const resolver = new IdentityResolver();
    resolver.resolve({
      type: 'identify',
      messageId: 'i-kept',
      userId: 'u9',
      anonymousId: undefined,
      timestamp: 1,
      contextGroupId: 'acc',
      traits: { email: 'kim@acme.io', name: 'Kim', utm_source: 'ad', plan: 'free' },
    });
    expect(resolver.userTraits('u9')).toEqual({ email: 'kim@acme.io', name: 'Kim' });
  });
});
