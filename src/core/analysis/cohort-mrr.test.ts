import { describe, expect, it } from 'vitest';
import { cohortMrr, cohortStart, type CohortAccount } from './cohort-mrr.js';

const at = (iso: string): number => Date.parse(iso);

function account(
  accountId: string,
  signup: string,
  converted?: string,
  mrr: readonly (readonly [string, number])[] = [],
): CohortAccount {
  return {
    accountId,
    signupAt: at(signup),
    convertedAt: converted === undefined ? undefined : at(converted),
    mrr: mrr.map(([time, amount]) => [at(time), amount] as const),
  };
}

// January: a1 pays in February and upgrades in March; a2 never pays; a3 pays on sign-up day and churns
// on 1 March. February: b1 pays in March. April: c1, too young for a whole period.
const accounts = [
  account('a1', '2026-01-10T00:00:00Z', '2026-02-05T00:00:00Z', [
    ['2026-02-05T00:00:00Z', 100],
    ['2026-03-20T00:00:00Z', 150],
  ]),
  account('a2', '2026-01-20T00:00:00Z'),
  account('a3', '2026-01-31T00:00:00Z', '2026-01-31T12:00:00Z', [
    ['2026-01-31T12:00:00Z', 50],
    ['2026-03-01T00:00:00Z', 0],
  ]),
  account('b1', '2026-02-14T00:00:00Z', '2026-03-10T00:00:00Z', [['2026-03-10T00:00:00Z', 200]]),
  account('c1', '2026-04-02T00:00:00Z'),
];
const dataEnd = at('2026-04-15T00:00:00Z');

describe('cohortMrr', () => {
  it('follows each monthly cohort through the periods it has lived through: cumulative conversions, MRR at period end, retention from the first period with MRR', () => {
    const report = cohortMrr({ accounts, dataEnd }, { by: 'month' });
    expect(report.by).toBe('month');
    expect(report.splits).toBeUndefined();
    expect(report.timeToPql).toEqual([]);
    expect(report.cohorts).toEqual([
      {
        cohort: '2026-01-01',
        accounts: 3,
        periods: [
          // End of January: a3 paid (50); a1 not yet.
          { period: 0, converted: 1, convertedShare: 1 / 3, mrr: 50, mrrRetention: 1 },
          // End of February: a1 100 + a3 50 (a3's churn is effective 1 March, after the period).
          { period: 1, converted: 2, convertedShare: 2 / 3, mrr: 150, mrrRetention: 3 },
          // End of March: a1 upgraded to 150, a3 churned to 0; conversions stay cumulative.
          { period: 2, converted: 2, convertedShare: 2 / 3, mrr: 150, mrrRetention: 3 },
        ],
      },
      {
        cohort: '2026-02-01',
        accounts: 1,
        periods: [
          { period: 0, converted: 0, convertedShare: 0, mrr: 0, mrrRetention: null },
          { period: 1, converted: 1, convertedShare: 1, mrr: 200, mrrRetention: 1 },
        ],
      },
      // April ends after the data does: the cohort is counted but has no period yet.
      { cohort: '2026-04-01', accounts: 1, periods: [] },
    ]);
  });

  it('gives the median days from sign-up to paid per cohort, with how many converted', () => {
    const report = cohortMrr({ accounts, dataEnd });
    expect(report.timeToPaid).toEqual([
      // a1: 26 days, a3: half a day.
      { cohort: '2026-01-01', definitionId: null, accounts: 2, medianDays: (26 + 0.5) / 2 },
      // b1: 14 February to 10 March 2026 is 24 days.
      { cohort: '2026-02-01', definitionId: null, accounts: 1, medianDays: 24 },
      { cohort: '2026-04-01', definitionId: null, accounts: 0, medianDays: null },
    ]);
  });

  it('splits cohorts by the definition that qualified each account, with time to PQL from the first qualification', () => {
    const qualifications = [
      { accountId: 'a1', definitionId: 'x', qualifiedAt: at('2026-01-17T00:00:00Z') },
      { accountId: 'a1', definitionId: 'y', qualifiedAt: at('2026-01-20T00:00:00Z') },
      { accountId: 'a2', definitionId: 'x', qualifiedAt: at('2026-01-25T00:00:00Z') },
      // A later re-qualification of a2 does not move its time to PQL.
      { accountId: 'a2', definitionId: 'x', qualifiedAt: at('2026-02-27T00:00:00Z') },
      { accountId: 'b1', definitionId: 'y', qualifiedAt: at('2026-02-16T00:00:00Z') },
      // An account without a timeline is ignored.
      { accountId: 'zz', definitionId: 'x', qualifiedAt: at('2026-01-05T00:00:00Z') },
    ];
    const report = cohortMrr({ accounts, dataEnd }, { qualifications, split: true });
    expect(report.splits).toEqual([
      {
        definitionId: 'x',
        cohorts: [
          {
            cohort: '2026-01-01',
            accounts: 2,
            periods: [
              { period: 0, converted: 0, convertedShare: 0, mrr: 0, mrrRetention: null },
              { period: 1, converted: 1, convertedShare: 0.5, mrr: 100, mrrRetention: 1 },
              { period: 2, converted: 1, convertedShare: 0.5, mrr: 150, mrrRetention: 1.5 },
            ],
          },
        ],
      },
      {
        definitionId: 'y',
        cohorts: [
          {
            cohort: '2026-01-01',
            accounts: 1,
            periods: [
              { period: 0, converted: 0, convertedShare: 0, mrr: 0, mrrRetention: null },
              { period: 1, converted: 1, convertedShare: 1, mrr: 100, mrrRetention: 1 },
              { period: 2, converted: 1, convertedShare: 1, mrr: 150, mrrRetention: 1.5 },
            ],
          },
          {
            cohort: '2026-02-01',
            accounts: 1,
            periods: [
              { period: 0, converted: 0, convertedShare: 0, mrr: 0, mrrRetention: null },
              { period: 1, converted: 1, convertedShare: 1, mrr: 200, mrrRetention: 1 },
            ],
          },
        ],
      },
    ]);
    const pql = (definitionId: string | null): typeof report.timeToPql =>
      report.timeToPql.filter((t) => t.definitionId === definitionId);
    // Any definition: a1 at day 7 (x before y), a2 at day 5; b1 at day 2.
    expect(pql(null)).toEqual([
      { cohort: '2026-01-01', definitionId: null, accounts: 2, medianDays: 6 },
      { cohort: '2026-02-01', definitionId: null, accounts: 1, medianDays: 2 },
      { cohort: '2026-04-01', definitionId: null, accounts: 0, medianDays: null },
    ]);
    expect(pql('x')).toEqual([
      { cohort: '2026-01-01', definitionId: 'x', accounts: 2, medianDays: 6 },
      { cohort: '2026-02-01', definitionId: 'x', accounts: 0, medianDays: null },
      { cohort: '2026-04-01', definitionId: 'x', accounts: 0, medianDays: null },
    ]);
    expect(pql('y').map((t) => t.medianDays)).toEqual([10, 2, null]);
    expect(report.timeToPaid.filter((t) => t.definitionId === 'y')).toEqual([
      { cohort: '2026-01-01', definitionId: 'y', accounts: 1, medianDays: 26 },
      { cohort: '2026-02-01', definitionId: 'y', accounts: 1, medianDays: 24 },
    ]);
  });

  it('starts weekly cohorts on Monday (UTC) and counts a period that ends exactly at the data end', () => {
    // 1 January 2026 is a Thursday: its week starts on Monday 29 December 2025.
    expect(new Date(cohortStart(at('2026-01-01T15:00:00Z'), 'week')).toISOString()).toBe(
      '2025-12-29T00:00:00.000Z',
    );
    const report = cohortMrr(
      {
        accounts: [
          account('sun', '2026-01-04T23:59:00Z', '2026-01-06T00:00:00Z', [['2026-01-06T00:00:00Z', 30]]),
          account('mon', '2026-01-05T00:00:00Z'),
        ],
        dataEnd: at('2026-01-19T00:00:00Z'),
      },
      { by: 'week' },
    );
    expect(report.cohorts).toEqual([
      {
        cohort: '2025-12-29',
        accounts: 1,
        periods: [
          { period: 0, converted: 0, convertedShare: 0, mrr: 0, mrrRetention: null },
          { period: 1, converted: 1, convertedShare: 1, mrr: 30, mrrRetention: 1 },
          { period: 2, converted: 1, convertedShare: 1, mrr: 30, mrrRetention: 1 },
        ],
      },
      {
        cohort: '2026-01-05',
        accounts: 1,
        periods: [
          { period: 0, converted: 0, convertedShare: 0, mrr: 0, mrrRetention: null },
          { period: 1, converted: 0, convertedShare: 0, mrr: 0, mrrRetention: null },
        ],
      },
    ]);
  });
});
