import { beforeAll, describe, expect, it } from 'vitest';
import {
  generateDemoEvents,
  generateDemoWorld,
  mergeByTimestamp,
  type AccountTruth,
  type DemoWorld,
  type SegmentMessage,
} from './demo-world.js';

const DAY = 86_400_000;
const FUNNEL = ['Project Created', 'Workflow Created', 'Step Added', 'Workflow Run'];
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function take(events: Iterable<SegmentMessage>, count: number): SegmentMessage[] {
  const out: SegmentMessage[] = [];
  for (const event of events) {
    if (out.length === count) break;
    out.push(event);
  }
  return out;
}

function eventName(event: SegmentMessage): string | undefined {
  return event.type === 'track' ? event.event : event.type === 'page' ? event.name : undefined;
}

/** What an analyst would measure on one account's events, independently of the generator's bookkeeping. */
interface Measured {
  readonly funnelWithin14d: boolean;
  readonly firstApiCallAt: number | undefined;
  readonly returnedWithin7d: boolean;
  readonly eventsProcessedFirst30d: number;
  readonly activeUsersFirst30d: number;
  readonly docsViewsFirst30d: number;
  readonly invoiceDownloads: readonly number[];
  readonly outOfOrder: number;
}

function measure(events: Iterable<SegmentMessage>, signupAt: number): Measured {
  let step = 0;
  let firstApiCallAt: number | undefined;
  let returnedWithin7d = false;
  let eventsProcessedFirst30d = 0;
  let docsViewsFirst30d = 0;
  let outOfOrder = 0;
  let previous = '';
  const users = new Set<string>();
  const invoiceDownloads: number[] = [];
  for (const event of events) {
    if (event.timestamp < previous) outOfOrder++;
    previous = event.timestamp;
    const at = Date.parse(event.timestamp);
    const name = eventName(event);
    const activity = event.type === 'track' || event.type === 'page';
    if (event.type === 'track' && step < 4 && name === FUNNEL[step] && at < signupAt + 14 * DAY) step++;
    if (name === 'API Call Made' && firstApiCallAt === undefined) firstApiCallAt = at;
    else if (
      activity &&
      firstApiCallAt !== undefined &&
      Math.floor(at / DAY) > Math.floor(firstApiCallAt / DAY) &&
      at <= firstApiCallAt + 7 * DAY
    ) {
      returnedWithin7d = true;
    }
    if (at < signupAt + 30 * DAY) {
      if (event.type === 'track' && name === 'Events Processed')
        eventsProcessedFirst30d += Number(event.properties.count);
      if (activity && event.userId !== undefined) users.add(event.userId);
      if (event.type === 'page' && name === 'Docs') docsViewsFirst30d++;
    }
    if (name === 'Invoice Downloaded') invoiceDownloads.push(at);
  }
  return {
    funnelWithin14d: step === 4,
    firstApiCallAt,
    returnedWithin7d,
    eventsProcessedFirst30d,
    activeUsersFirst30d: users.size,
    docsViewsFirst30d,
    invoiceDownloads,
    outOfOrder,
  };
}

function convertedWithin90d(truth: AccountTruth): boolean {
  return truth.convertedAt !== undefined && truth.convertedAt <= truth.signupAt + 90 * DAY;
}

function conversionRate(accounts: readonly AccountTruth[]): number {
  return accounts.filter(convertedWithin90d).length / accounts.length;
}

describe('generateDemoWorld', () => {
  let world: DemoWorld;
  let measured: Map<string, Measured>;
  let mature: AccountTruth[];

  beforeAll(() => {
    world = generateDemoWorld({ seed: 7, accounts: 1000 });
    measured = new Map(
      world.truth.map((truth) => [
        truth.accountId,
        measure(world.accountEvents(truth.accountId), truth.signupAt),
      ]),
    );
    // Only accounts observed for a full 90 days after sign-up count for conversion-rate comparisons.
    mature = world.truth.filter((truth) => truth.signupAt + 90 * DAY <= world.end);
  });

  it('produces byte-identical events and identical counts for the same seed', () => {
    const again = generateDemoWorld({ seed: 7, accounts: 1000 });
    expect(JSON.stringify(take(again.events(), 100))).toBe(JSON.stringify(take(world.events(), 100)));
    expect(JSON.stringify(take(again.eventsByTime(), 100))).toBe(
      JSON.stringify(take(world.eventsByTime(), 100)),
    );
    let count = 0;
    let againCount = 0;
    for (const _ of world.events()) count++;
    for (const _ of again.events()) againCount++;
    expect(againCount).toBe(count);
    expect(again.companies).toEqual(world.companies);
    expect(again.stripeEvents).toEqual(world.stripeEvents);
    expect(again.truth).toEqual(world.truth);
  });

  it('produces different events for a different seed', () => {
    const other = generateDemoWorld({ seed: 8, accounts: 1000 });
    expect(JSON.stringify(take(other.events(), 100))).not.toBe(JSON.stringify(take(world.events(), 100)));
    expect(other.truth.map((t) => t.signupAt)).not.toEqual(world.truth.map((t) => t.signupAt));
  });

  it('emits only Segment-shaped messages with unique messageIds, a user or anonymous id and ISO timestamps', () => {
    const ids = new Set<string>();
    const problems: string[] = [];
    let count = 0;
    for (const event of world.events()) {
      count++;
      ids.add(event.messageId);
      const record = event as unknown as Record<string, unknown>;
      const hasUser = typeof record.userId === 'string' || typeof record.anonymousId === 'string';
      const at = Date.parse(event.timestamp);
      const nameOk =
        event.type === 'track'
          ? event.event.length > 0
          : event.type === 'page'
            ? event.name.length > 0
            : true;
      const bodyOk =
        event.type === 'track' || event.type === 'page'
          ? typeof event.properties === 'object'
          : event.type === 'identify' || event.type === 'group'
            ? typeof event.traits === 'object'
            : typeof event.previousId === 'string';
      if (
        !['track', 'page', 'identify', 'group', 'alias'].includes(event.type) ||
        !hasUser ||
        !ISO_MS.test(event.timestamp) ||
        !(at >= world.start && at < world.end) ||
        !nameOk ||
        !bodyOk ||
        typeof event.context !== 'object'
      ) {
        problems.push(JSON.stringify(event));
      }
    }
    expect(problems.slice(0, 3)).toEqual([]);
    expect(ids.size).toBe(count);
    expect(count / world.accounts.length).toBeGreaterThan(100);
    expect(count / world.accounts.length).toBeLessThan(300);
  });

  it("keeps each account's events in time order and eventsByTime in global time order", () => {
    expect([...measured.values()].reduce((sum, m) => sum + m.outOfOrder, 0)).toBe(0);
    let previous = '';
    let outOfOrder = 0;
    let count = 0;
    for (const event of world.eventsByTime()) {
      if (event.timestamp < previous) outOfOrder++;
      previous = event.timestamp;
      count++;
    }
    expect(outOfOrder).toBe(0);
    let perAccount = 0;
    for (const _ of world.events()) perAccount++;
    expect(count).toBe(perAccount);
  });

  it('emits Invoice Downloaded only after the account converted', () => {
    let downloads = 0;
    for (const truth of world.truth) {
      for (const at of measured.get(truth.accountId)?.invoiceDownloads ?? []) {
        downloads++;
        expect(truth.convertedAt).toBeDefined();
        expect(at).toBeGreaterThan(truth.convertedAt ?? Infinity);
      }
    }
    expect(downloads).toBeGreaterThan(0);
  });

  it('records in its truth exactly the behaviour measured on the emitted events', () => {
    const mismatches = world.truth.filter((truth) => {
      const m = measured.get(truth.accountId);
      return (
        m === undefined ||
        m.funnelWithin14d !== truth.workflowFunnelWithin14d ||
        m.firstApiCallAt !== truth.firstApiCallAt ||
        m.returnedWithin7d !== truth.returnedWithin7dOfFirstCall ||
        m.eventsProcessedFirst30d !== truth.eventsProcessedFirst30d ||
        m.activeUsersFirst30d !== truth.activeUsersFirst30d
      );
    });
    expect(mismatches.map((truth) => truth.accountId)).toEqual([]);
  });

  it('converts 8-15% of accounts within 90 days of sign-up', () => {
    expect(mature.length).toBeGreaterThan(400);
    expect(conversionRate(mature)).toBeGreaterThan(0.08);
    expect(conversionRate(mature)).toBeLessThan(0.15);
  });

  it('plants the workflow funnel: reaching step 4 within 14 days at least doubles conversion', () => {
    const reached = mature.filter((truth) => measured.get(truth.accountId)?.funnelWithin14d === true);
    const notReached = mature.filter((truth) => measured.get(truth.accountId)?.funnelWithin14d !== true);
    expect(reached.length).toBeGreaterThan(50);
    expect(conversionRate(reached)).toBeGreaterThanOrEqual(2 * conversionRate(notReached));
  });

  it('plants the moderate signals and ICP fit: each raises conversion', () => {
    const split = (predicate: (truth: AccountTruth, m: Measured) => boolean): number => {
      const yes = mature.filter((truth) => predicate(truth, measured.get(truth.accountId) as Measured));
      const no = mature.filter((truth) => !predicate(truth, measured.get(truth.accountId) as Measured));
      return conversionRate(yes) / conversionRate(no);
    };
    expect(split((_, m) => m.returnedWithin7d && m.eventsProcessedFirst30d >= 1000)).toBeGreaterThan(1.5);
    expect(split((_, m) => m.activeUsersFirst30d >= 3)).toBeGreaterThan(1.5);
    expect(split((truth) => truth.icp)).toBeGreaterThan(1.5);
  });

  it('keeps Docs views non-predictive: conversion with and without them within a 0.8-1.25 ratio', () => {
    const viewers = mature.filter((truth) => (measured.get(truth.accountId)?.docsViewsFirst30d ?? 0) > 0);
    const others = mature.filter((truth) => (measured.get(truth.accountId)?.docsViewsFirst30d ?? 0) === 0);
    expect(viewers.length).toBeGreaterThan(100);
    expect(others.length).toBeGreaterThan(100);
    const ratio = conversionRate(viewers) / conversionRate(others);
    expect(ratio).toBeGreaterThanOrEqual(0.8);
    expect(ratio).toBeLessThanOrEqual(1.25);
  });

  it("puts each converter's first Stripe invoice.paid with amount_paid > 0 at its convertedAt", () => {
    const customers = new Map<string, string>();
    const firstPaid = new Map<string, number>();
    for (const event of world.stripeEvents) {
      const object = event.data.object;
      if (event.type === 'customer.created') {
        const accountId = (object.metadata as Record<string, string>).account_id;
        if (accountId !== undefined) customers.set(String(object.id), accountId);
      }
      if (event.type === 'invoice.paid' && Number(object.amount_paid) > 0) {
        const customer = String(object.customer);
        if (!firstPaid.has(customer)) firstPaid.set(customer, event.created);
      }
    }
    const byAccount = new Map<string, number>();
    for (const [customer, created] of firstPaid) {
      const accountId = customers.get(customer);
      if (accountId !== undefined) byAccount.set(accountId, created * 1000);
    }
    const converters = world.truth.filter((truth) => truth.convertedAt !== undefined);
    const withMetadata = converters.filter((truth) => byAccount.has(truth.accountId));
    expect(withMetadata.length).toBeGreaterThan(converters.length * 0.7);
    for (const truth of withMetadata) expect(byAccount.get(truth.accountId)).toBe(truth.convertedAt);
    for (const truth of world.truth.filter((t) => t.convertedAt === undefined)) {
      expect(byAccount.has(truth.accountId)).toBe(false);
    }
  });

  it('orders Stripe events by created and keeps every time inside the period', () => {
    const created = world.stripeEvents.map((event) => event.created);
    expect(created).toEqual([...created].sort((a, b) => a - b));
    expect(Math.max(...created) * 1000).toBeLessThan(world.end);
    expect(new Set(world.stripeEvents.map((event) => event.id)).size).toBe(world.stripeEvents.length);
  });

  it('gives most accounts a CRM company, free-mail accounts none, and a few ambiguous domain duplicates', () => {
    const freeMail = world.accounts.filter((account) => account.freeMail);
    expect(freeMail.length).toBeGreaterThan(100);
    expect(freeMail.every((account) => account.crmCompanyId === undefined)).toBe(true);
    const linked = world.accounts.filter((account) => account.crmCompanyId !== undefined);
    expect(linked.length / world.accounts.length).toBeGreaterThan(0.6);
    expect(linked.some((account) => account.crmJoin === 'trait')).toBe(true);
    const normalize = (domain: string): string =>
      domain
        .toLowerCase()
        .replace(/^https?:\/\//, '')
        .replace(/^www\./, '')
        .replace(/\/.*$/, '');
    const perDomain = new Map<string, number>();
    for (const company of world.companies) {
      const domain = normalize(company.domain);
      perDomain.set(domain, (perDomain.get(domain) ?? 0) + 1);
    }
    expect([...perDomain.values()].filter((count) => count > 1).length).toBeGreaterThan(0);
    const mql =
      world.companies.filter((company) => company.mqlAt !== undefined).length / world.companies.length;
    expect(mql).toBeGreaterThan(0.1);
    expect(mql).toBeLessThan(0.3);
  });

  it('rejects a non-positive account count with a message naming the option', () => {
    expect(() => generateDemoWorld({ accounts: 0 })).toThrow(
      /options\.accounts: expected a positive integer, got 0/,
    );
  });
});

describe('generateDemoEvents', () => {
  it('yields about eventsPerAccount events per account (within 30%, the tail is heavy)', () => {
    let count = 0;
    for (const _ of generateDemoEvents({ seed: 1, accounts: 1000, eventsPerAccount: 300 })) count++;
    expect(count / 1000).toBeGreaterThan(210);
    expect(count / 1000).toBeLessThan(390);
  });
});

describe('mergeByTimestamp', () => {
  it('merges time-ordered streams into one time-ordered stream, ties to the earlier stream', () => {
    const message = (timestamp: string, messageId: string): SegmentMessage => ({
      type: 'track',
      messageId,
      timestamp,
      userId: 'u',
      event: 'e',
      properties: {},
      context: {},
    });
    const a = [message('2026-03-01T00:00:01.000Z', 'a1'), message('2026-03-01T00:00:03.000Z', 'a2')];
    const b = [message('2026-03-01T00:00:01.000Z', 'b1'), message('2026-03-01T00:00:02.000Z', 'b2')];
    const merged = [...mergeByTimestamp([a[Symbol.iterator](), b[Symbol.iterator](), [][Symbol.iterator]()])];
    expect(merged.map((m) => m.messageId)).toEqual(['a1', 'b1', 'b2', 'a2']);
  });
});
