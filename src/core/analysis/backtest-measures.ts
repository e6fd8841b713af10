import type { TraitChange } from '../events/event.js';
import { parseTimestamp } from '../events/parse-event.js';
import { DAY_MS, type AccountTimeline } from './account-timeline.js';
import { cohortStart, periodStart, type CohortGrain } from './cohort-mrr.js';
import {
  fisherExactTwoSided,
  median,
  precisionRecall,
  quantileSorted,
  riskRatioInterval,
  wilsonInterval,
  type Interval,
} from './statistics.js';

/** What the measures need of an account (an `AccountTimeline` has all of it). */
export type MeasuredAccount = Pick<AccountTimeline, 'accountId' | 'signupAt' | 'convertedAt' | 'mqlAt'>;

/** One qualification of a backtest, with the account's CRM owner as of the moment it qualified. */
export interface MeasuredQualification {
  readonly accountId: string;
  readonly definitionId: string;
  readonly qualifiedAt: number;
  readonly owner: string | undefined;
}

/** Options of `backtestMeasures`. */
export interface BacktestMeasureOptions {
  /** A PQL or MQL is a hit when the account converts within this many days after it (default 90). */
  readonly conversionDays?: number;
  /** How many converters never flagged are listed (default 10). */
  readonly examples?: number;
  /** Grain of the sign-up cohorts of `byCohort` (default month). */
  readonly cohortsBy?: CohortGrain;
}

/** Conversion of a group of accounts within the horizon from its anchor (qualification, MQL or sign-up). */
export interface ConversionRate {
  /** Accounts whose horizon ended by the data's end (or that were flagged after converting): the rate's base. */
  readonly accounts: number;
  readonly converted: number;
  readonly rate: number | null;
  /** 95% Wilson interval of the rate. */
  readonly interval: Interval | null;
  /** Accounts whose horizon runs past the data's end: left out of the rate. */
  readonly notYetObservable: number;
  /** Flagged at or after their first paid invoice: counted in `accounts`, never as converted. */
  readonly afterConversion: number;
}

/** The ratio of two conversion rates with its 95% interval (Katz log method). */
export interface RateRatio {
  readonly ratio: number | null;
  readonly interval: Interval | null;
}

/** Conversion of the PQLs of one sign-up cohort, to show drift. */
export interface CohortConversion {
  readonly cohort: string;
  /** Accounts that signed up in the cohort. */
  readonly accounts: number;
  /** Of them, accounts the definitions flagged. */
  readonly pqls: number;
  readonly conversion: ConversionRate;
}

/**
 * The measures of a backtest over one set of definitions: PQL volume, conversion against the other
 * groups, precision and recall, lead time and the converters it missed.
 */
export interface BacktestMeasures {
  readonly conversionDays: number;
  readonly dataEnd: string;
  readonly pqls: {
    /** Qualifications (an account may qualify again after expiry, or under several definitions). */
    readonly total: number;
    readonly accounts: number;
    /** Qualifications whose account had already converted: not hits. */
    readonly afterConversion: number;
  };
  /** Qualifications per UTC week (Monday), every week from the first to the last. */
  readonly perWeek: readonly { readonly week: string; readonly pqls: number }[];
  /** Qualifications per CRM owner as of the qualification (null: no owner), most PQLs first. */
  readonly perRep: readonly {
    readonly owner: string | null;
    readonly pqls: number;
    readonly observable: number;
    readonly converted: number;
  }[];
  /** PQLs and MQLs from their first qualification; non-PQLs and all accounts from sign-up. */
  readonly conversion: {
    readonly pqls: ConversionRate;
    readonly nonPqls: ConversionRate;
    readonly mqls: ConversionRate;
    readonly all: ConversionRate;
  };
  readonly ratios: {
    readonly pqlToMql: RateRatio;
    readonly pqlToNonPql: RateRatio;
    readonly pqlToAll: RateRatio;
  };
  /** Observable PQL accounts that converted within the horizon, over all observable PQL accounts. */
  readonly precision: number | null;
  /** Converters flagged before converting and within the horizon, over all converters. */
  readonly recall: number | null;
  readonly f1: number | null;
  /** Days from first qualification to conversion over the converters caught. */
  readonly leadTimeDays: {
    readonly accounts: number;
    readonly median: number | null;
    readonly p25: number | null;
    readonly p75: number | null;
  };
  /** Every converter is caught, flagged only after converting, flagged too early, or never flagged. */
  readonly converters: {
    readonly total: number;
    readonly caught: number;
    readonly flaggedAfterConversion: number;
    readonly flaggedTooEarly: number;
    readonly neverFlagged: number;
    readonly neverFlaggedExamples: readonly { readonly accountId: string; readonly convertedAt: string }[];
  };
  /** PQL conversion per sign-up cohort, and the earlier half of the PQLs against the later half. */
  readonly byCohort: readonly CohortConversion[];
  readonly drift: {
    readonly earlier: ConversionRate;
    readonly later: ConversionRate;
    /** later.rate - earlier.rate. */
    readonly change: number | null;
    /** Two-sided Fisher exact test of earlier against later. */
    readonly pValue: number | null;
  };
}

interface Tally {
  accounts: number;
  converted: number;
  notYetObservable: number;
  afterConversion: number;
}

type Outcome = 'hit' | 'miss' | 'after' | 'unobservable';

/**
 * Measures a backtest's qualifications against what the accounts did (point in time: a PQL counts as a
 * hit only if the account first paid after it and within `conversionDays`; one that qualified after the
 * account paid is counted apart; accounts whose horizon runs past `dataEnd` are not yet observable). Pure.
 */
export function backtestMeasures(
  accounts: readonly MeasuredAccount[],
  qualifications: readonly MeasuredQualification[],
  dataEnd: number,
  options: BacktestMeasureOptions = {},
): BacktestMeasures {
  const conversionDays = options.conversionDays ?? 90;
  if (!(conversionDays > 0))
    throw new RangeError(`conversionDays: expected a number of days > 0, got ${conversionDays}`);
  const horizon = conversionDays * DAY_MS;
  const byId = new Map(accounts.map((a) => [a.accountId, a]));
  const known = qualifications.filter((q) => byId.has(q.accountId));
  const firstAt = new Map<string, number>();
  for (const q of known) {
    const at = firstAt.get(q.accountId);
    if (at === undefined || q.qualifiedAt < at) firstAt.set(q.accountId, q.qualifiedAt);
  }
  const judge = (account: MeasuredAccount, anchor: number): Outcome => {
    const paid = account.convertedAt;
    if (paid !== undefined && paid <= anchor) return 'after';
    if (paid !== undefined && paid - anchor <= horizon && paid <= dataEnd) return 'hit';
    return anchor + horizon <= dataEnd ? 'miss' : 'unobservable';
  };
  const fromSignup = (account: MeasuredAccount): Outcome => {
    const paid = account.convertedAt;
    if (paid !== undefined && paid - account.signupAt <= horizon && paid <= dataEnd) return 'hit';
    return account.signupAt + horizon <= dataEnd ? 'miss' : 'unobservable';
  };
  // Sign-up anchored: a conversion inside the horizon is known even before the horizon ends, but the
  // rate must not count early hits while leaving early misses out, so young accounts are left out whole.
  const observedFromSignup = (account: MeasuredAccount): Outcome =>
    account.signupAt + horizon <= dataEnd ? fromSignup(account) : 'unobservable';
  const observedFrom = (account: MeasuredAccount, anchor: number): Outcome => {
    const outcome = judge(account, anchor);
    return outcome === 'hit' && anchor + horizon > dataEnd ? 'unobservable' : outcome;
  };

  const pqlTally = tally();
  const nonPqlTally = tally();
  const mqlTally = tally();
  const allTally = tally();
  const pqlOutcome = new Map<string, Outcome>();
  const converters = { total: 0, caught: 0, flaggedAfterConversion: 0, flaggedTooEarly: 0, neverFlagged: 0 };
  const neverFlagged: MeasuredAccount[] = [];
  const leadDays: number[] = [];
  for (const account of accounts) {
    add(allTally, observedFromSignup(account));
    const first = firstAt.get(account.accountId);
    if (first === undefined) add(nonPqlTally, observedFromSignup(account));
    else {
      const outcome = observedFrom(account, first);
      pqlOutcome.set(account.accountId, outcome);
      add(pqlTally, outcome);
    }
    if (account.mqlAt !== undefined) add(mqlTally, observedFrom(account, account.mqlAt));
    const paid = account.convertedAt;
    if (paid === undefined || paid > dataEnd) continue;
    converters.total++;
    if (first === undefined) {
      converters.neverFlagged++;
      neverFlagged.push(account);
    } else if (first >= paid) converters.flaggedAfterConversion++;
    else if (paid - first > horizon) converters.flaggedTooEarly++;
    else {
      converters.caught++;
      leadDays.push((paid - first) / DAY_MS);
    }
  }

  const rates = {
    pqls: rateOf(pqlTally),
    nonPqls: rateOf(nonPqlTally),
    mqls: rateOf(mqlTally),
    all: rateOf(allTally),
  };
  const precision = precisionRecall(pqlTally.converted, pqlTally.accounts, converters.total).precision;
  const recall = precisionRecall(converters.caught, pqlTally.accounts, converters.total).recall;
  const f1 =
    precision !== undefined && recall !== undefined && precision + recall > 0
      ? (2 * precision * recall) / (precision + recall)
      : undefined;
  const sortedLead = [...leadDays].sort((a, b) => a - b);
  const examples = options.examples ?? 10;
  const cohortsBy = options.cohortsBy ?? 'month';
  return {
    conversionDays,
    dataEnd: new Date(dataEnd).toISOString(),
    pqls: {
      total: known.length,
      accounts: firstAt.size,
      afterConversion: known.filter((q) => {
        const paid = byId.get(q.accountId)?.convertedAt;
        return paid !== undefined && paid <= q.qualifiedAt;
      }).length,
    },
    perWeek: perWeek(known.map((q) => q.qualifiedAt)),
    perRep: perRep(known, byId, (account, at) => observedFrom(account, at)),
    conversion: rates,
    ratios: {
      pqlToMql: ratioOf(pqlTally, mqlTally),
      pqlToNonPql: ratioOf(pqlTally, nonPqlTally),
      pqlToAll: ratioOf(pqlTally, allTally),
    },
    precision: precision ?? null,
    recall: recall ?? null,
    f1: f1 ?? null,
    leadTimeDays: {
      accounts: leadDays.length,
      median: median(leadDays) ?? null,
      p25: quantileSorted(sortedLead, 0.25) ?? null,
      p75: quantileSorted(sortedLead, 0.75) ?? null,
    },
    converters: {
      ...converters,
      neverFlaggedExamples: neverFlagged
        .sort((a, b) => (a.convertedAt as number) - (b.convertedAt as number))
        .slice(0, examples)
        .map((a) => ({
          accountId: a.accountId,
          convertedAt: new Date(a.convertedAt as number).toISOString(),
        })),
    },
    byCohort: byCohort(accounts, pqlOutcome, cohortsBy),
    drift: drift(accounts, pqlOutcome),
  };
}

/**
 * The accounts of a replay with what the measures read, from their sign-up (engine) and their CRM and
 * billing trait changes: the first `converted_at` (the first paid invoice) and the latest `mql_at`.
 */
export function measuredAccounts(
  signups: Iterable<{ readonly accountId: string; readonly signupAt: number | undefined }>,
  traitChanges: readonly TraitChange[],
): MeasuredAccount[] {
  const converted = new Map<string, number>();
  const mql = new Map<string, { at: number; effectiveAt: number }>();
  for (const change of traitChanges) {
    const paid = parseTimestamp(change.traits['converted_at']);
    if (paid !== undefined) {
      const known = converted.get(change.accountId);
      if (known === undefined || paid < known) converted.set(change.accountId, paid);
    }
    const mqlAt = parseTimestamp(change.traits['mql_at']);
    const latest = mql.get(change.accountId);
    if (mqlAt !== undefined && (latest === undefined || change.effectiveAt >= latest.effectiveAt))
      mql.set(change.accountId, { at: mqlAt, effectiveAt: change.effectiveAt });
  }
  const out: MeasuredAccount[] = [];
  for (const { accountId, signupAt } of signups) {
    if (signupAt === undefined) continue;
    out.push({
      accountId,
      signupAt,
      convertedAt: converted.get(accountId),
      mqlAt: mql.get(accountId)?.at,
    });
  }
  return out;
}

/**
 * The qualifications with each account's CRM owner as of its `qualifiedAt` (the latest `owner` trait
 * change effective at or before it; CRM values win over other sources at the same time), point in time.
 */
export function withOwnersAt(
  qualifications: readonly Omit<MeasuredQualification, 'owner'>[],
  traitChanges: readonly TraitChange[],
): MeasuredQualification[] {
  const rank = (source: string): number => (source === 'crm' ? 1 : 0);
  const changes = new Map<string, { at: number; rank: number; owner: string }[]>();
  for (const change of traitChanges) {
    const owner = change.traits['owner'];
    if (typeof owner !== 'string' || owner === '') continue;
    let list = changes.get(change.accountId);
    if (list === undefined) changes.set(change.accountId, (list = []));
    list.push({ at: change.effectiveAt, rank: rank(change.source), owner });
  }
  for (const list of changes.values()) list.sort((a, b) => a.at - b.at || a.rank - b.rank);
  return qualifications.map((q) => {
    let owner: string | undefined;
    for (const c of changes.get(q.accountId) ?? []) {
      if (c.at > q.qualifiedAt) break;
      owner = c.owner;
    }
    return { accountId: q.accountId, definitionId: q.definitionId, qualifiedAt: q.qualifiedAt, owner };
  });
}

function tally(): Tally {
  return { accounts: 0, converted: 0, notYetObservable: 0, afterConversion: 0 };
}

function add(t: Tally, outcome: Outcome): void {
  if (outcome === 'unobservable') {
    t.notYetObservable++;
    return;
  }
  t.accounts++;
  if (outcome === 'hit') t.converted++;
  if (outcome === 'after') t.afterConversion++;
}

function rateOf(t: Tally): ConversionRate {
  return {
    accounts: t.accounts,
    converted: t.converted,
    rate: t.accounts > 0 ? t.converted / t.accounts : null,
    interval: wilsonInterval(t.converted, t.accounts) ?? null,
    notYetObservable: t.notYetObservable,
    afterConversion: t.afterConversion,
  };
}

function ratioOf(a: Tally, b: Tally): RateRatio {
  if (a.accounts === 0 || b.accounts === 0 || b.converted === 0) return { ratio: null, interval: null };
  return {
    ratio: a.converted / a.accounts / (b.converted / b.accounts),
    interval: riskRatioInterval(a.converted, a.accounts, b.converted, b.accounts) ?? null,
  };
}

function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function perWeek(times: readonly number[]): { week: string; pqls: number }[] {
  if (times.length === 0) return [];
  const counts = new Map<number, number>();
  for (const t of times) {
    const week = cohortStart(t, 'week');
    counts.set(week, (counts.get(week) ?? 0) + 1);
  }
  const weeks = [...counts.keys()];
  const first = Math.min(...weeks);
  const last = Math.max(...weeks);
  const out: { week: string; pqls: number }[] = [];
  for (let k = 0, week = first; week <= last; k++, week = periodStart(first, k, 'week'))
    out.push({ week: isoDay(week), pqls: counts.get(week) ?? 0 });
  return out;
}

function perRep(
  qualifications: readonly MeasuredQualification[],
  byId: ReadonlyMap<string, MeasuredAccount>,
  outcomeOf: (account: MeasuredAccount, at: number) => Outcome,
): BacktestMeasures['perRep'] {
  const reps = new Map<string | null, { pqls: number; observable: number; converted: number }>();
  for (const q of qualifications) {
    const owner = q.owner ?? null;
    let rep = reps.get(owner);
    if (rep === undefined) reps.set(owner, (rep = { pqls: 0, observable: 0, converted: 0 }));
    rep.pqls++;
    const outcome = outcomeOf(byId.get(q.accountId) as MeasuredAccount, q.qualifiedAt);
    if (outcome !== 'unobservable') rep.observable++;
    if (outcome === 'hit') rep.converted++;
  }
  return [...reps]
    .map(([owner, rep]) => ({ owner, ...rep }))
    .sort((a, b) => b.pqls - a.pqls || String(a.owner).localeCompare(String(b.owner)));
}

function byCohort(
  accounts: readonly MeasuredAccount[],
  pqlOutcome: ReadonlyMap<string, Outcome>,
  by: CohortGrain,
): CohortConversion[] {
  const cohorts = new Map<number, { accounts: number; pqls: number; tally: Tally }>();
  for (const account of accounts) {
    const start = cohortStart(account.signupAt, by);
    let cohort = cohorts.get(start);
    if (cohort === undefined) cohorts.set(start, (cohort = { accounts: 0, pqls: 0, tally: tally() }));
    cohort.accounts++;
    const outcome = pqlOutcome.get(account.accountId);
    if (outcome === undefined) continue;
    cohort.pqls++;
    add(cohort.tally, outcome);
  }
  return [...cohorts]
    .sort((a, b) => a[0] - b[0])
    .map(([start, c]) => ({
      cohort: isoDay(start),
      accounts: c.accounts,
      pqls: c.pqls,
      conversion: rateOf(c.tally),
    }));
}

function drift(
  accounts: readonly MeasuredAccount[],
  pqlOutcome: ReadonlyMap<string, Outcome>,
): BacktestMeasures['drift'] {
  // The observable PQL accounts in sign-up order, cut in two halves (the earlier one gets the odd one out).
  const observed = accounts
    .filter((a) => {
      const outcome = pqlOutcome.get(a.accountId);
      return outcome !== undefined && outcome !== 'unobservable';
    })
    .sort((a, b) => a.signupAt - b.signupAt || (a.accountId < b.accountId ? -1 : 1));
  const half = Math.ceil(observed.length / 2);
  const earlier = tally();
  const later = tally();
  observed.forEach((a, i) => add(i < half ? earlier : later, pqlOutcome.get(a.accountId) as Outcome));
  const e = rateOf(earlier);
  const l = rateOf(later);
  return {
    earlier: e,
    later: l,
    change: e.rate === null || l.rate === null ? null : l.rate - e.rate,
    pValue:
      earlier.accounts === 0 || later.accounts === 0
        ? null
        : fisherExactTwoSided(
            earlier.converted,
            earlier.accounts - earlier.converted,
            later.converted,
            later.accounts - later.converted,
          ),
  };
}

/** The measures of a set of definitions together, plus the same measures for each definition alone. */
export interface DefinitionSetMeasures extends BacktestMeasures {
  readonly byDefinition: readonly ({ readonly definitionId: string } & BacktestMeasures)[];
}

/**
 * Measures a backtest of several definitions: as one set (an account is a PQL when any of them qualified
 * it, from the earliest qualification) and each definition alone, in the order of `definitionIds`. Pure.
 */
export function definitionSetMeasures(
  accounts: readonly MeasuredAccount[],
  qualifications: readonly MeasuredQualification[],
  dataEnd: number,
  definitionIds: readonly string[],
  options: BacktestMeasureOptions = {},
): DefinitionSetMeasures {
  return {
    ...backtestMeasures(accounts, qualifications, dataEnd, options),
    byDefinition: definitionIds.map((definitionId) => ({
      definitionId,
      ...backtestMeasures(
        accounts,
        qualifications.filter((q) => q.definitionId === definitionId),
        dataEnd,
        options,
      ),
    })),
  };
}
