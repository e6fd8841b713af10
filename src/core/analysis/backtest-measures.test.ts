import { describe, expect, it } from 'vitest';
import type { TraitChange } from '../events/event.js';
import {
  backtestMeasures,
  definitionSetMeasures,
  measuredAccounts,
  withOwnersAt,
  type MeasuredAccount,
  type MeasuredQualification,
} from './backtest-measures.js';
import { riskRatioInterval, wilsonInterval } from './statistics.js';

const DAY = 86_400_000;
// Monday 5 January 2026: day n is T0 + n days.
const T0 = Date.parse('2026-01-05T00:00:00Z');
const d = (n: number): number => T0 + n * DAY;

function account(accountId: string, signup: number, paid?: number, mql?: number): MeasuredAccount {
  return {
    accountId,
    signupAt: d(signup),
    convertedAt: paid === undefined ? undefined : d(paid),
    mqlAt: mql === undefined ? undefined : d(mql),
  };
}

function pql(accountId: string, at: number, owner?: string): MeasuredQualification {
  return { accountId, definitionId: 'def', qualifiedAt: d(at), owner };
}

// A 30-day horizon over data ending on day 200; every answer below is worked out by hand.
const accounts = [
  account('p1', 0, 20, 5), //     PQL day 10, paid 10 days later: hit. MQL day 5: hit.
  account('p2', 0, 50), //        PQL day 5, paid 45 days later: miss (flagged too early).
  account('p3', 7), //            PQL day 14, never paid: miss.
  account('p4', 7, 12, 10), //    PQL day 20, after paying on day 12: not a hit. MQL day 10: hit.
  account('p5', 14, 40), //       PQL day 16, paid 24 days later: hit.
  account('p6', 180, 190), //     PQL day 185: horizon ends day 215 > 200, not yet observable.
  account('p7', 0, 30), //        PQL day 1 (hit, 29 days) and again day 29 under another owner.
  account('n1', 0, 25, 2), //     never flagged, paid 25 days after sign-up. MQL day 2: hit.
  account('n2', 0, undefined, 3), // never flagged, never paid. MQL day 3: miss.
  account('n3', 10, 100), //      never flagged, paid 90 days after sign-up: miss from sign-up.
  account('n4', 7), //            never flagged, never paid.
  account('n5', 190), //          signed up too late to be observed.
  account('n6', 20, 45, 50), //   never flagged, paid 25 days after sign-up. MQL day 50, after paying.
];
const qualifications = [
  pql('p1', 10, 'ann'),
  pql('p2', 5, 'ann'),
  pql('p3', 14, 'bob'),
  pql('p4', 20, 'bob'),
  pql('p5', 16),
  pql('p6', 185, 'ann'),
  pql('p7', 1, 'ann'),
  pql('p7', 29, 'bob'),
  pql('ghost', 3, 'ann'), // no such account: ignored
];

function rate(
  accounts: number,
  converted: number,
  notYetObservable: number,
  afterConversion: number,
): Record<string, unknown> {
  return {
    accounts,
    converted,
    rate: converted / accounts,
    interval: wilsonInterval(converted, accounts),
    notYetObservable,
    afterConversion,
  };
}

describe('backtestMeasures', () => {
  const m = backtestMeasures(accounts, qualifications, d(200), { conversionDays: 30 });

  it('compares the conversion of PQLs (from qualification) with MQLs (from mql_at), non-PQLs and all accounts (from sign-up)', () => {
    expect(m.conversion).toEqual({
      // p1, p5, p7 hit; p2, p3 miss; p4 qualified after paying; p6 not yet observable.
      pqls: rate(6, 3, 1, 1),
      // n1, n6 hit; n2, n3, n4 miss; n5 too young.
      nonPqls: rate(5, 2, 1, 0),
      // p1, p4, n1 hit; n2 miss; n6 became an MQL after paying.
      mqls: rate(5, 3, 0, 1),
      // From sign-up: p1, p4, p5, p7 (30 days exactly), n1, n6 hit; p6 and n5 too young.
      all: rate(11, 6, 2, 0),
    });
    expect(m.ratios.pqlToMql).toEqual({ ratio: 0.5 / 0.6, interval: riskRatioInterval(3, 6, 3, 5) });
    expect(m.ratios.pqlToNonPql.ratio).toBeCloseTo(1.25, 12);
    expect(m.ratios.pqlToAll.ratio).toBeCloseTo(11 / 12, 12);
  });

  it('gives precision over observable PQLs, recall over every converter, and splits the converters by why they were or were not caught', () => {
    expect(m.precision).toBe(0.5);
    // Caught: p1, p5, p7 and p6 (paid 5 days after its PQL, even if its horizon has not ended).
    expect(m.recall).toBe(4 / 9);
    expect(m.f1).toBeCloseTo(8 / 17, 12);
    expect(m.converters).toEqual({
      total: 9,
      caught: 4,
      flaggedAfterConversion: 1,
      flaggedTooEarly: 1,
      neverFlagged: 3,
      neverFlaggedExamples: [
        { accountId: 'n1', convertedAt: new Date(d(25)).toISOString() },
        { accountId: 'n6', convertedAt: new Date(d(45)).toISOString() },
        { accountId: 'n3', convertedAt: new Date(d(100)).toISOString() },
      ],
    });
    // Lead times 5, 10, 24, 29 days: median 17, nearest-rank quartiles 5 and 24.
    expect(m.leadTimeDays).toEqual({ accounts: 4, median: 17, p25: 5, p75: 24 });
  });

  it('counts PQLs in total, per week with empty weeks filled, and per rep as of each qualification', () => {
    expect(m.pqls).toEqual({ total: 8, accounts: 7, afterConversion: 1 });
    expect(m.perWeek).toHaveLength(27);
    expect(m.perWeek.slice(0, 5)).toEqual([
      { week: '2026-01-05', pqls: 2 },
      { week: '2026-01-12', pqls: 1 },
      { week: '2026-01-19', pqls: 3 },
      { week: '2026-01-26', pqls: 0 },
      { week: '2026-02-02', pqls: 1 },
    ]);
    expect(m.perWeek[26]).toEqual({ week: '2026-07-06', pqls: 1 });
    expect(m.perWeek.reduce((sum, w) => sum + w.pqls, 0)).toBe(8);
    expect(m.perRep).toEqual([
      // p1 hit, p2 miss, p6 not yet observable, p7 (day 1) hit.
      { owner: 'ann', pqls: 4, observable: 3, converted: 2 },
      // p3 miss, p4 after paying, p7 again on day 29 (paid a day later): hit.
      { owner: 'bob', pqls: 3, observable: 3, converted: 1 },
      { owner: null, pqls: 1, observable: 1, converted: 1 },
    ]);
  });

  it('shows PQL conversion per sign-up cohort and the earlier half of the PQLs against the later half', () => {
    expect(m.byCohort).toEqual([
      { cohort: '2026-01-01', accounts: 11, pqls: 6, conversion: rate(6, 3, 0, 1) },
      {
        cohort: '2026-07-01',
        accounts: 2,
        pqls: 1,
        conversion: {
          accounts: 0,
          converted: 0,
          rate: null,
          interval: null,
          notYetObservable: 1,
          afterConversion: 0,
        },
      },
    ]);
    // In sign-up order p1, p2, p7 | p3, p4, p5: 2 of 3 against 1 of 3; Fisher's table [[2,1],[1,2]] has p = 1.
    expect(m.drift.earlier).toEqual(rate(3, 2, 0, 0));
    expect(m.drift.later).toEqual(rate(3, 1, 0, 1));
    expect(m.drift.change).toBeCloseTo(-1 / 3, 12);
    expect(m.drift.pValue).toBeCloseTo(1, 9);
  });

  it('reports a falling definition as drift with a small p-value', () => {
    // 20 early PQL accounts convert 18 times; 20 later ones twice.
    const many: MeasuredAccount[] = [];
    const flags: MeasuredQualification[] = [];
    for (let i = 0; i < 40; i++) {
      const early = i < 20;
      const converts = early ? i < 18 : i < 22;
      many.push(account(`a${String(i).padStart(2, '0')}`, i, converts ? i + 10 : undefined));
      flags.push(pql(`a${String(i).padStart(2, '0')}`, i + 1));
    }
    const drift = backtestMeasures(many, flags, d(400)).drift;
    expect([drift.earlier.converted, drift.later.converted]).toEqual([18, 2]);
    expect(drift.change).toBeCloseTo(-0.8, 12);
    expect(drift.pValue as number).toBeLessThan(1e-5);
  });

  it('uses a 90-day horizon by default and rejects a horizon that is not a positive number of days', () => {
    const late = backtestMeasures([account('x', 0, 80)], [pql('x', 1)], d(90));
    expect(late.conversionDays).toBe(90);
    expect(late.conversion.pqls.notYetObservable).toBe(1);
    const observed = backtestMeasures([account('x', 0, 80)], [pql('x', 1)], d(91));
    expect(observed.conversion.pqls).toEqual(rate(1, 1, 0, 0));
    expect(() => backtestMeasures([], [], 0, { conversionDays: 0 })).toThrow(RangeError);
  });
});

describe('measuredAccounts', () => {
  it('takes the first paid invoice and the latest mql_at from trait changes, and leaves out accounts without a sign-up', () => {
    const change = (
      accountId: string,
      effectiveAt: number,
      traits: Record<string, unknown>,
    ): TraitChange => ({
      kind: 'traits',
      accountId,
      source: 'billing',
      effectiveAt: d(effectiveAt),
      traits,
      changeId: `${accountId}:${effectiveAt}`,
    });
    const out = measuredAccounts(
      [
        { accountId: 'a', signupAt: d(0) },
        { accountId: 'b', signupAt: undefined },
        { accountId: 'c', signupAt: d(3) },
      ],
      [
        change('a', 10, { converted_at: new Date(d(10)).toISOString(), mrr: 10 }),
        change('a', 40, { converted_at: new Date(d(40)).toISOString() }),
        change('a', 2, { mql_at: new Date(d(2)).toISOString() }),
        change('a', 5, { mql_at: new Date(d(4)).toISOString() }),
        change('b', 1, { converted_at: new Date(d(1)).toISOString() }),
      ],
    );
    expect(out).toEqual([
      { accountId: 'a', signupAt: d(0), convertedAt: d(10), mqlAt: d(4) },
      { accountId: 'c', signupAt: d(3), convertedAt: undefined, mqlAt: undefined },
    ]);
  });
});

describe('definitionSetMeasures', () => {
  it('measures the set from each account’s earliest qualification and every definition on its own', () => {
    const both = [
      { accountId: 'p1', definitionId: 'early', qualifiedAt: d(1), owner: undefined },
      // 'late' flags p1 only after it paid (day 20): alone it has no hit.
      { accountId: 'p1', definitionId: 'late', qualifiedAt: d(25), owner: undefined },
      { accountId: 'p3', definitionId: 'late', qualifiedAt: d(14), owner: undefined },
    ];
    const m = definitionSetMeasures(accounts, both, d(200), ['early', 'late', 'unused'], {
      conversionDays: 30,
    });
    expect([m.pqls.total, m.pqls.accounts, m.conversion.pqls.converted, m.conversion.pqls.accounts]).toEqual([
      3, 2, 1, 2,
    ]);
    expect(
      m.byDefinition.map((x) => [x.definitionId, x.pqls.total, x.conversion.pqls.converted, x.precision]),
    ).toEqual([
      ['early', 1, 1, 1],
      ['late', 2, 0, 0],
      ['unused', 0, 0, null],
    ]);
    expect(m.byDefinition[1]?.pqls.afterConversion).toBe(1);
  });
});

describe('withOwnersAt', () => {
  it('names the CRM owner as of each qualification, point in time, the CRM winning a tie', () => {
    const change = (source: 'crm' | 'product', at: number, owner: string): TraitChange => ({
      kind: 'traits',
      accountId: 'a',
      source,
      effectiveAt: d(at),
      traits: { owner },
      changeId: `${source}:${at}`,
    });
    const changes = [change('crm', 20, 'bob'), change('product', 20, 'zed'), change('crm', 5, 'ann')];
    const owners = withOwnersAt(
      [1, 5, 19, 20, 30].map((at) => ({ accountId: 'a', definitionId: 'def', qualifiedAt: d(at) })),
      changes,
    ).map((q) => q.owner);
    expect(owners).toEqual([undefined, 'ann', 'ann', 'bob', 'bob']);
    expect(withOwnersAt([{ accountId: 'b', definitionId: 'def', qualifiedAt: d(30) }], changes)).toEqual([
      { accountId: 'b', definitionId: 'def', qualifiedAt: d(30), owner: undefined },
    ]);
  });
});
