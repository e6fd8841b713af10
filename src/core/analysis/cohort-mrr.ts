import { DAY_MS, mrrAt, type AccountTimeline } from './account-timeline.js';
import { median } from './statistics.js';

/** The calendar grain of sign-up cohorts and of the periods after sign-up (UTC; weeks start on Monday). */
export type CohortGrain = 'week' | 'month';

/** What the cohort view needs of an account (an `AccountTimeline` has all of it). */
export type CohortAccount = Pick<AccountTimeline, 'accountId' | 'signupAt' | 'convertedAt' | 'mrr'>;

/** A qualification as the cohort split reads it (a backtest's `qualified` transitions fit). */
export interface CohortQualification {
  readonly accountId: string;
  readonly definitionId: string;
  readonly qualifiedAt: number;
}

/** One period of a cohort: cumulative conversions and the cohort's MRR at the period's end. */
export interface CohortPeriod {
  /** Periods since the sign-up period (0 = the sign-up week or month). */
  readonly period: number;
  /** Accounts of the cohort that converted before the period's end (cumulative). */
  readonly converted: number;
  readonly convertedShare: number;
  /** Total MRR of the cohort's accounts at the period's end (major units). */
  readonly mrr: number;
  /** `mrr` over the MRR of the cohort's first period with MRR > 0; null before that period. */
  readonly mrrRetention: number | null;
}

/** One sign-up cohort with the periods it has fully lived through by the data's end. */
export interface CohortRow {
  /** The first day of the cohort's week or month (`2026-06-01`). */
  readonly cohort: string;
  readonly accounts: number;
  readonly periods: readonly CohortPeriod[];
}

/** Median days from sign-up to an outcome for one cohort (and one definition, or any when null). */
export interface CohortTiming {
  readonly cohort: string;
  readonly definitionId: string | null;
  /** Accounts of the cohort that reached the outcome (the median's sample). */
  readonly accounts: number;
  readonly medianDays: number | null;
}

/** The cohort rows of the accounts one definition qualified. */
export interface CohortSplit {
  readonly definitionId: string;
  readonly cohorts: readonly CohortRow[];
}

/** The sign-up cohort MRR view: the JSON of `pql cohorts --json` and `GET /api/analysis/cohorts`. */
export interface CohortReport {
  readonly by: CohortGrain;
  readonly cohorts: readonly CohortRow[];
  /** Present only when a split by definition was asked for. */
  readonly splits?: readonly CohortSplit[];
  /** Sign-up to first qualification; empty without qualifications. */
  readonly timeToPql: readonly CohortTiming[];
  /** Sign-up to first paid invoice, over the accounts that converted. */
  readonly timeToPaid: readonly CohortTiming[];
}

/** Options of `cohortMrr`. */
export interface CohortOptions {
  /** Cohort and period grain (default month). */
  readonly by?: CohortGrain;
  /** Backtest qualifications: give time-to-PQL, and the split when `split` is true. */
  readonly qualifications?: readonly CohortQualification[];
  /** Also build one set of cohort rows per definition that qualified accounts. */
  readonly split?: boolean;
}

/** The start (epoch ms, UTC) of the week (Monday) or month containing `at`. */
export function cohortStart(at: number, by: CohortGrain): number {
  const d = new Date(at);
  if (by === 'month') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return day - ((d.getUTCDay() + 6) % 7) * DAY_MS;
}

/** The start of the `k`-th period after the one starting at `start` (calendar months, or 7-day weeks). */
export function periodStart(start: number, k: number, by: CohortGrain): number {
  if (by === 'week') return start + k * 7 * DAY_MS;
  const d = new Date(start);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + k, 1);
}

/**
 * Groups accounts into sign-up cohorts (UTC weeks or months) and follows each through the periods since
 * sign-up that ended by `dataEnd` (a cohort never gets a period it has not lived through): cumulative
 * conversions, MRR at each period's end and MRR retention; optionally split by qualifying definition, with
 * median time to PQL and to paid per cohort. Pure.
 */
export function cohortMrr(
  data: { readonly accounts: readonly CohortAccount[]; readonly dataEnd: number },
  options: CohortOptions = {},
): CohortReport {
  const by = options.by ?? 'month';
  const qualifications = options.qualifications ?? [];
  const signups = new Map(data.accounts.map((a) => [a.accountId, a.signupAt]));
  const firstAny = new Map<string, number>();
  const firstByDefinition = new Map<string, Map<string, number>>();
  for (const q of qualifications) {
    if (!signups.has(q.accountId)) continue;
    keepEarliest(firstAny, q.accountId, q.qualifiedAt);
    let mine = firstByDefinition.get(q.definitionId);
    if (mine === undefined) firstByDefinition.set(q.definitionId, (mine = new Map()));
    keepEarliest(mine, q.accountId, q.qualifiedAt);
  }
  const definitionIds = [...firstByDefinition.keys()].sort();
  const timeToPql =
    qualifications.length === 0
      ? []
      : [
          ...timings(data.accounts, by, null, (a) => firstAny.get(a.accountId)),
          ...(options.split === true
            ? definitionIds.flatMap((id) =>
                timings(data.accounts, by, id, (a) => firstByDefinition.get(id)?.get(a.accountId)),
              )
            : []),
        ];
  const timeToPaid = [
    ...timings(data.accounts, by, null, (a) => a.convertedAt),
    ...(options.split === true
      ? definitionIds.flatMap((id) => {
          const mine = firstByDefinition.get(id) as Map<string, number>;
          return timings(
            data.accounts.filter((a) => mine.has(a.accountId)),
            by,
            id,
            (a) => a.convertedAt,
          );
        })
      : []),
  ];
  return {
    by,
    cohorts: cohortRows(data.accounts, data.dataEnd, by),
    ...(options.split === true
      ? {
          splits: definitionIds.map((definitionId) => {
            const mine = firstByDefinition.get(definitionId) as Map<string, number>;
            return {
              definitionId,
              cohorts: cohortRows(
                data.accounts.filter((a) => mine.has(a.accountId)),
                data.dataEnd,
                by,
              ),
            };
          }),
        }
      : {}),
    timeToPql,
    timeToPaid,
  };
}

function keepEarliest(map: Map<string, number>, key: string, at: number): void {
  const known = map.get(key);
  if (known === undefined || at < known) map.set(key, at);
}

function groupByCohort<T extends CohortAccount>(accounts: readonly T[], by: CohortGrain): Map<number, T[]> {
  const groups = new Map<number, T[]>();
  for (const account of accounts) {
    const start = cohortStart(account.signupAt, by);
    const group = groups.get(start);
    if (group === undefined) groups.set(start, [account]);
    else group.push(account);
  }
  return new Map([...groups].sort((a, b) => a[0] - b[0]));
}

function cohortRows(accounts: readonly CohortAccount[], dataEnd: number, by: CohortGrain): CohortRow[] {
  return [...groupByCohort(accounts, by)].map(([start, members]) => {
    const periods: CohortPeriod[] = [];
    let baseMrr: number | undefined;
    for (let k = 0; ; k++) {
      const end = periodStart(start, k + 1, by);
      if (end > dataEnd) break;
      let converted = 0;
      let mrr = 0;
      for (const a of members) {
        if (a.convertedAt !== undefined && a.convertedAt < end) converted++;
        mrr += mrrAt(a.mrr, end - 1);
      }
      mrr = Math.round(mrr * 100) / 100;
      if (baseMrr === undefined && mrr > 0) baseMrr = mrr;
      periods.push({
        period: k,
        converted,
        convertedShare: converted / members.length,
        mrr,
        mrrRetention: baseMrr === undefined ? null : mrr / baseMrr,
      });
    }
    return { cohort: isoDay(start), accounts: members.length, periods };
  });
}

function timings(
  accounts: readonly CohortAccount[],
  by: CohortGrain,
  definitionId: string | null,
  outcomeAt: (account: CohortAccount) => number | undefined,
): CohortTiming[] {
  return [...groupByCohort(accounts, by)].map(([start, members]) => {
    const days = members.flatMap((a) => {
      const at = outcomeAt(a);
      return at === undefined ? [] : [(at - a.signupAt) / DAY_MS];
    });
    return { cohort: isoDay(start), definitionId, accounts: days.length, medianDays: median(days) ?? null };
  });
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
