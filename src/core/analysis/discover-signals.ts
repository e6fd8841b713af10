import { DAY_MS, featureLabel, type AccountTimeline, type AnalysisData } from './account-timeline.js';
import type { Definition, EventSelector } from '../definitions/definition.js';
import {
  benjaminiHochberg,
  fisherExactGreater,
  median,
  precisionRecall,
  quantileSorted,
  riskRatioInterval,
  wilsonInterval,
  type Interval,
} from './statistics.js';

/** A configured funnel to test as "steps reached" candidates (steps are feature keys like `event:X`). */
export interface FunnelSpec {
  readonly name: string;
  readonly steps: readonly string[];
  /** Every counted step must happen before sign-up + this many days (`within: Nd of signup`), if set. */
  readonly withinDays?: number;
}

/**
 * The funnels of definitions as discovery candidates (`event:X` / `page:X` steps); funnels whose steps
 * select several names or filter on properties are left out, since discovery counts features by name.
 */
export function funnelsFromDefinitions(definitions: readonly Definition[]): FunnelSpec[] {
  const funnels: FunnelSpec[] = [];
  const seen = new Set<string>();
  const stepKey = (step: EventSelector): string | undefined => {
    const name = step.names?.length === 1 ? step.names[0] : undefined;
    const type = step.types.length === 1 ? step.types[0] : undefined;
    if (name === undefined || type === undefined || step.where.length > 0) return undefined;
    return `${type === 'track' ? 'event' : type}:${name}`;
  };
  for (const definition of definitions)
    for (const { name, spec } of definition.signals) {
      if (spec.kind !== 'funnel') continue;
      const steps = spec.steps.map(stepKey);
      if (steps.some((k) => k === undefined)) continue;
      const withinDays = spec.window.kind === 'signup' ? spec.window.ms / DAY_MS : undefined;
      const key = `${steps.join('>')}@${withinDays ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      funnels.push({
        name: `${definition.id}.${name}`,
        steps: steps as string[],
        ...(withinDays === undefined ? {} : { withinDays }),
      });
    }
  return funnels;
}

/** Options of signal discovery; every field has a default (DESIGN.md: 30 days of behaviour, conversion within 90). */
export interface DiscoveryOptions {
  readonly behaviourDays?: number;
  readonly conversionDays?: number;
  /** False discovery rate for Benjamini-Hochberg (default 0.05). */
  readonly alpha?: number;
  /** Fewest accounts with, and without, a behaviour for it to be tested (default 5). */
  readonly minAccounts?: number;
  /** Share of observed accounts an ordered pair or triple must reach to be mined (default 0.05). */
  readonly minSupport?: number;
  /** "Within the first N days" windows (default 1, 3, 7, 14; the whole window is the plain "done" candidate). */
  readonly withinDays?: readonly number[];
  /** Days within which an account must return after a milestone (default 7). */
  readonly returnDays?: number;
  /** Most ordered triples tested, the most frequent first (default 200). */
  readonly maxTriples?: number;
  readonly funnels?: readonly FunnelSpec[];
  /** Conversion rate a threshold must reach (default: twice the base rate). */
  readonly bar?: number;
  /** Signals given threshold advice, and pooled for composites (default 5). */
  readonly topSignals?: number;
  /**
   * Hours before conversion within which behaviour no longer counts (default 24): the checkout itself
   * (pricing and billing pages minutes before the first invoice) is part of paying, not a lead a rep can act on.
   */
  readonly minLeadHours?: number;
}

/** Kinds of candidate behaviour. */
export type CandidateKind =
  'done' | 'count' | 'within' | 'users' | 'invites' | 'returned' | 'sequence' | 'funnel';

/** One tested candidate behaviour with its measures. */
export interface CandidateResult {
  readonly id: string;
  readonly kind: CandidateKind;
  readonly label: string;
  /** Feature keys it reads (`event:X`, `page:X`), in order for sequences and funnels. */
  readonly features: readonly string[];
  /** Threshold (count, users, invites, funnel steps reached), when the kind has one. */
  readonly threshold: number | undefined;
  /** Days after sign-up (within) or after the milestone (returned), when the kind has them. */
  readonly days: number | undefined;
  /** Observed accounts that did it before converting (and within the behaviour window). */
  readonly accounts: number;
  readonly converted: number;
  readonly conversionWith: number;
  readonly conversionWithout: number | undefined;
  readonly lift: number | undefined;
  /** 95% Katz interval of the lift. */
  readonly liftInterval: Interval | undefined;
  /** 95% Wilson interval of the conversion rate with the behaviour. */
  readonly conversionInterval: Interval | undefined;
  readonly precision: number | undefined;
  readonly recall: number | undefined;
  readonly f1: number | undefined;
  /** Median days from the behaviour to conversion, over converters who did it. */
  readonly medianLeadDays: number | undefined;
  /**
   * One-sided Fisher exact p-value for "the behaviour raises conversion". One-sided because the question is
   * which behaviours predict paying, and because cutting converters' behaviour at conversion can only make
   * a behaviour look rarer among converters: a predictor that passes is not an artefact of that cut.
   */
  readonly pValue: number;
  /** Benjamini-Hochberg adjusted p-value across all tested candidates. */
  readonly qValue: number;
  readonly significant: boolean;
}

/** One rung of a threshold ladder. */
export interface ThresholdRung {
  readonly threshold: number;
  readonly accounts: number;
  readonly converted: number;
  readonly conversion: number;
  /** Accounts per week that would qualify at this threshold (observed sign-ups per week x share). */
  readonly pqlsPerWeek: number;
}

/** Threshold advice for one signal family (a feature's count, active users, invites). */
export interface ThresholdAdvice {
  readonly signal: string;
  readonly kind: 'count' | 'users' | 'invites';
  readonly feature: string | undefined;
  readonly bar: number;
  /** Smallest threshold whose conversion reaches the bar (with enough accounts), if any. */
  readonly advised: ThresholdRung | undefined;
  readonly ladder: readonly ThresholdRung[];
}

/** An all-of combination of 2-3 significant signals (exploratory: chosen after looking, p not corrected). */
export interface CompositeResult {
  readonly ids: readonly string[];
  readonly label: string;
  readonly accounts: number;
  readonly converted: number;
  readonly precision: number | undefined;
  readonly recall: number | undefined;
  readonly f1: number | undefined;
  readonly lift: number | undefined;
  readonly pValue: number;
  readonly pqlsPerWeek: number;
}

/** The discovery report: population, ranked candidates, predictors, advice, composites and a definition. */
export interface DiscoveryReport {
  readonly horizon: {
    readonly behaviourDays: number;
    readonly conversionDays: number;
    readonly minLeadHours: number;
    readonly dataEnd: number;
  };
  readonly population: {
    readonly accounts: number;
    readonly observed: number;
    /** Accounts left out because sign-up + conversion days is after the data's end. */
    readonly tooYoung: number;
    readonly converted: number;
    readonly baseRate: number | undefined;
    readonly signupsPerWeek: number;
  };
  readonly tested: number;
  /** Candidates not tested because too few accounts had (or lacked) them. */
  readonly untested: number;
  /** Candidates left out because they flag exactly the accounts a simpler candidate before them flags. */
  readonly redundant: number;
  readonly alpha: number;
  /** Every tested candidate: significant predictors first (by the lift interval's lower bound), then by p-value. */
  readonly candidates: readonly CandidateResult[];
  /** Significant (q <= alpha) candidates with lift > 1, ranked. */
  readonly predictors: readonly CandidateResult[];
  readonly verdict: string;
  readonly thresholds: readonly ThresholdAdvice[];
  readonly composites: readonly CompositeResult[];
  /** A ready-to-save definition (plain object, the definition language), or undefined with no predictor. */
  readonly suggestedDefinition: Readonly<Record<string, unknown>> | undefined;
}

interface Prepared {
  readonly signupAt: number;
  readonly convertedAt: number | undefined;
  readonly converted: boolean;
  /** Times per feature id (indexed by it; undefined when never done), ascending, before the cutoff. */
  readonly byFeature: readonly (number[] | undefined)[];
  /** All behaviour times before the cutoff, ascending. */
  readonly all: number[];
  /** Each user's first behaviour time before the cutoff, ascending. */
  readonly userFirst: number[];
}

interface CandidateSpec {
  readonly id: string;
  readonly kind: CandidateKind;
  readonly label: string;
  readonly features: readonly string[];
  readonly threshold: number | undefined;
  readonly days: number | undefined;
  readonly family: string;
  heldAt(account: Prepared): number | undefined;
  /**
   * Sequences: held at the first time of `feature` after `prefix` held (what `heldAt` computes by walking
   * every step). Measuring reads the prefix's result for the same account instead of walking again.
   */
  readonly then?: { readonly prefix: CandidateSpec; readonly feature: number };
}

/**
 * Finds the behaviours that predicted conversion, with honest statistics: every account observed over the
 * same horizon after sign-up (too-young accounts left out and counted), behaviour counted only before the
 * account converted, a Fisher exact test per candidate and Benjamini-Hochberg across all of them.
 */
export function discoverSignals(data: AnalysisData, options: DiscoveryOptions = {}): DiscoveryReport {
  const behaviourDays = options.behaviourDays ?? 30;
  const conversionDays = options.conversionDays ?? 90;
  const alpha = options.alpha ?? 0.05;
  const minAccounts = options.minAccounts ?? 5;
  const minSupport = options.minSupport ?? 0.05;
  const withinDays = (options.withinDays ?? [1, 3, 7, 14]).filter((d) => d < behaviourDays);
  const returnDays = options.returnDays ?? 7;
  const maxTriples = options.maxTriples ?? 200;
  const topSignals = options.topSignals ?? 5;
  const minLeadHours = options.minLeadHours ?? 24;
  if (!(minLeadHours >= 0))
    throw new RangeError(`minLeadHours: expected a number of hours >= 0, got ${minLeadHours}`);
  if (!(behaviourDays > 0) || !(conversionDays >= behaviourDays))
    throw new RangeError(
      `horizon: expected 0 < behaviourDays <= conversionDays, got ${behaviourDays} and ${conversionDays}`,
    );

  const observedAccounts = data.accounts.filter((a) => a.signupAt + conversionDays * DAY_MS <= data.dataEnd);
  const tooYoung = data.accounts.length - observedAccounts.length;
  const prepared = observedAccounts.map((a) =>
    prepare(a, behaviourDays, conversionDays, minLeadHours * 3_600_000),
  );
  const observed = prepared.length;
  const converted = prepared.filter((p) => p.converted).length;
  const baseRate = observed > 0 ? converted / observed : undefined;
  let firstSignup = Number.POSITIVE_INFINITY;
  let lastSignup = Number.NEGATIVE_INFINITY;
  for (const a of observedAccounts) {
    if (a.signupAt < firstSignup) firstSignup = a.signupAt;
    if (a.signupAt > lastSignup) lastSignup = a.signupAt;
  }
  const weeks = observed > 0 ? Math.max(1, (lastSignup - firstSignup) / (7 * DAY_MS)) : 1;
  const signupsPerWeek = observed / weeks;

  const specs = enumerateCandidates(data.features, prepared, {
    withinDays,
    returnDays,
    behaviourDays,
    minSupport,
    maxTriples,
    funnels: options.funnels ?? [],
  });

  const measured: Omit<CandidateResult, 'qValue' | 'significant'>[] = [];
  let untested = 0;
  let redundant = 0;
  const signatures = new Set<string>();
  const tallies = tallyAll(specs, prepared);
  for (const [i, spec] of specs.entries()) {
    const { stats, signature } = measure(spec, tallies, i, prepared.length, converted);
    if (stats.accounts < minAccounts || observed - stats.accounts < minAccounts) {
      untested++;
      continue;
    }
    // Candidates are enumerated simplest first; one that flags the very same accounts adds only a test.
    if (signatures.has(signature)) {
      redundant++;
      continue;
    }
    signatures.add(signature);
    measured.push(stats);
  }
  const q = benjaminiHochberg(measured.map((m) => m.pValue));
  const results: CandidateResult[] = measured.map((m, i) => ({
    ...m,
    qValue: q[i] as number,
    significant: (q[i] as number) <= alpha,
  }));
  const isPredictor = (r: CandidateResult): boolean => r.significant && (r.lift ?? 0) > 1;
  const rankKey = (r: CandidateResult): number => r.liftInterval?.[0] ?? 0;
  results.sort((a, b) => {
    const pa = isPredictor(a);
    const pb = isPredictor(b);
    if (pa !== pb) return pa ? -1 : 1;
    if (pa) return rankKey(b) - rankKey(a) || a.pValue - b.pValue;
    return a.pValue - b.pValue || a.id.localeCompare(b.id);
  });
  const predictors = results.filter(isPredictor);
  const verdict =
    observed === 0
      ? `no account has been observed for ${conversionDays} days after sign-up yet (${tooYoung} too young)`
      : predictors.length === 0
        ? `nothing significant after Benjamini-Hochberg correction at ${alpha} across ${results.length} candidates: no behaviour in this data predicts conversion`
        : `${predictors.length} of ${results.length} candidates predict conversion after Benjamini-Hochberg correction at ${alpha}; top: ${(predictors[0] as CandidateResult).label}`;

  const bar = options.bar ?? Math.min(1, 2 * (baseRate ?? 0));
  const specById = new Map(specs.map((s) => [s.id, s]));
  const thresholds = adviseThresholds(predictors, prepared, data.features, {
    bar,
    minAccounts,
    topSignals,
    signupsPerWeek,
    observed,
  });
  const pool = pickPool(predictors, topSignals + 3);
  const composites = combine(pool, specById, prepared, converted, signupsPerWeek, observed);
  const suggestedDefinition = suggestDefinition(
    predictors[0],
    composites[0],
    specById,
    behaviourDays,
    returnDays,
  );
  return {
    horizon: { behaviourDays, conversionDays, minLeadHours, dataEnd: data.dataEnd },
    population: { accounts: data.accounts.length, observed, tooYoung, converted, baseRate, signupsPerWeek },
    tested: results.length,
    untested,
    redundant,
    alpha,
    candidates: results,
    predictors,
    verdict,
    thresholds,
    composites,
    suggestedDefinition,
  };
}

function prepare(
  account: AccountTimeline,
  behaviourDays: number,
  conversionDays: number,
  leadMs: number,
): Prepared {
  const convertedAt = account.convertedAt;
  const converted = convertedAt !== undefined && convertedAt <= account.signupAt + conversionDays * DAY_MS;
  // No leakage: behaviour counts only before conversion (by the lead margin), whenever that happened.
  const cutoff = Math.min(
    account.signupAt + behaviourDays * DAY_MS,
    convertedAt === undefined ? Number.POSITIVE_INFINITY : convertedAt - leadMs,
  );
  const byFeature: (number[] | undefined)[] = [];
  const all: number[] = [];
  const userSeen = new Set<number>();
  const userFirst: number[] = [];
  for (let i = 0; i < account.times.length; i++) {
    const t = account.times[i] as number;
    if (t < account.signupAt) continue;
    if (t >= cutoff) break;
    const feature = account.features[i] as number;
    let list = byFeature[feature];
    if (list === undefined) byFeature[feature] = list = [];
    list.push(t);
    all.push(t);
    const user = account.users[i] as number;
    if (!userSeen.has(user)) {
      userSeen.add(user);
      userFirst.push(t);
    }
  }
  return { signupAt: account.signupAt, convertedAt, converted, byFeature, all, userFirst };
}

/** Index of the first element > t in ascending `times`. */
function firstAfter(times: readonly number[], t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] as number) <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const utcDay = (t: number): number => Math.floor(t / DAY_MS);

function distinctSorted(values: readonly number[]): number[] {
  return [...new Set(values)].sort((a, b) => a - b);
}

/** Thresholds from the data: quartiles and the 90th percentile of the counts of those who did it at all. */
function countGrid(counts: readonly number[]): number[] {
  const sorted = [...counts].sort((a, b) => a - b);
  return distinctSorted(
    [0.25, 0.5, 0.75, 0.9].map((q) => quantileSorted(sorted, q) ?? 0).filter((k) => k >= 2),
  );
}

function enumerateCandidates(
  features: readonly string[],
  accounts: readonly Prepared[],
  options: {
    withinDays: readonly number[];
    returnDays: number;
    behaviourDays: number;
    minSupport: number;
    maxTriples: number;
    funnels: readonly FunnelSpec[];
  },
): CandidateSpec[] {
  // Configured funnels first: a generic candidate that flags the same accounts then yields to them.
  const specs: CandidateSpec[] = options.funnels.flatMap((funnel) => funnelCandidates(funnel, features));
  const window = `in the first ${options.behaviourDays} days`;
  const present = features.map((_, f) => accounts.some((a) => a.byFeature[f] !== undefined));
  const doneSpecs: CandidateSpec[] = [];
  for (let f = 0; f < features.length; f++) {
    if (!present[f]) continue;
    const key = features[f] as string;
    const name = featureLabel(key);
    const family = key;
    const done: CandidateSpec = {
      id: `done:${key}`, kind: 'done', label: `${name} at least once ${window}`, features: [key],
      threshold: 1, days: undefined, family,
      heldAt: (a) => a.byFeature[f]?.[0],
    }; // prettier-ignore
    doneSpecs[f] = done;
    specs.push(done);
    const counts: number[] = [];
    for (const a of accounts) {
      const times = a.byFeature[f];
      if (times !== undefined) counts.push(times.length);
    }
    for (const k of countGrid(counts)) {
      specs.push({
        id: `count:${key}:${k}`, kind: 'count', label: `${name} ${k}+ times ${window}`, features: [key],
        threshold: k, days: undefined, family,
        heldAt: (a) => a.byFeature[f]?.[k - 1],
      }); // prettier-ignore
    }
    for (const days of options.withinDays) {
      specs.push({
        id: `within:${key}:${days}d`, kind: 'within', label: `${name} within ${days} day${days === 1 ? '' : 's'} of sign-up`,
        features: [key], threshold: 1, days, family,
        heldAt: (a) => {
          const first = a.byFeature[f]?.[0];
          return first !== undefined && first < a.signupAt + days * DAY_MS ? first : undefined;
        },
      }); // prettier-ignore
    }
    if (key.startsWith('event:')) {
      const returnMs = options.returnDays * DAY_MS;
      specs.push({
        id: `returned:${key}:${options.returnDays}d`, kind: 'returned',
        label: `returned within ${options.returnDays} days after the first ${name}`, features: [key],
        threshold: undefined, days: options.returnDays, family: `returned:${key}`,
        heldAt: (a) => {
          const milestone = a.byFeature[f]?.[0];
          if (milestone === undefined) return undefined;
          // The first activity on a later UTC calendar day than the milestone, at most N x 24 h after it.
          const nextDay = (utcDay(milestone) + 1) * DAY_MS;
          const i = firstAfter(a.all, nextDay - 1);
          const t = a.all[i];
          return t !== undefined && t <= milestone + returnMs ? t : undefined;
        },
      }); // prettier-ignore
    }
  }
  // Active users.
  const userCounts = accounts.map((a) => a.userFirst.length).filter((n) => n > 0);
  for (const k of distinctSorted([2, 3, ...countGrid(userCounts)])) {
    specs.push({
      id: `users:${k}`, kind: 'users', label: `${k}+ active users ${window}`, features: [],
      threshold: k, days: undefined, family: 'users',
      heldAt: (a) => a.userFirst[k - 1],
    }); // prettier-ignore
  }
  // Invitations: every track event whose name mentions an invite, counted together.
  const inviteIds = features.flatMap((key, f) =>
    key.startsWith('event:') && /invit/i.test(key) && present[f] ? [f] : [],
  );
  if (inviteIds.length > 0) {
    const inviteTimes = (a: Prepared): number[] => {
      if (inviteIds.length === 1) return a.byFeature[inviteIds[0] as number] ?? [];
      return inviteIds.flatMap((f) => a.byFeature[f] ?? []).sort((x, y) => x - y);
    };
    const inviteCounts = accounts.map((a) => inviteTimes(a).length).filter((n) => n > 0);
    const inviteKeys = inviteIds.map((f) => features[f] as string);
    for (const k of distinctSorted([1, 2, 3, ...countGrid(inviteCounts)])) {
      specs.push({
        id: `invites:${k}`, kind: 'invites', label: `${k}+ invitations sent ${window}`, features: inviteKeys,
        threshold: k, days: undefined, family: 'invites',
        heldAt: (a) => inviteTimes(a)[k - 1],
      }); // prettier-ignore
    }
  }
  specs.push(
    ...sequenceCandidates(features, doneSpecs, accounts, options.minSupport, options.maxTriples, window),
  );
  return specs;
}

/** When the ordered steps were done (each after the previous one's first time after it), or undefined. */
function sequenceHeldAt(a: Prepared, steps: readonly number[]): number | undefined {
  let t: number | undefined = a.byFeature[steps[0] as number]?.[0];
  for (let i = 1; i < steps.length && t !== undefined; i++) t = nextAfter(a.byFeature[steps[i] as number], t);
  return t;
}

/** The first of ascending `times` after `t` (undefined when none is, or `t` is NaN). */
function nextAfter(times: readonly number[] | undefined, t: number): number | undefined {
  if (times === undefined || !((times[times.length - 1] as number) > t)) return undefined;
  const first = times[0] as number;
  return first > t ? first : times[firstAfter(times, t)];
}

/** Most accounts whose sequences are counted when mining frequent pairs and triples. */
const MINING_SAMPLE = 4000;

/**
 * Frequent ordered pairs and triples of track events (support counted on a sample of accounts), as
 * candidates: a pair extends its first step's `done` candidate, a triple extends its pair.
 */
function sequenceCandidates(
  features: readonly string[],
  doneSpecs: readonly (CandidateSpec | undefined)[],
  accounts: readonly Prepared[],
  minSupport: number,
  maxTriples: number,
  window: string,
): CandidateSpec[] {
  // Support is counted on an evenly spaced sample of at most MINING_SAMPLE accounts: mining is by
  // frequency only, and a 5% support is estimated well by a few thousand accounts at any data size.
  const step = Math.max(1, Math.ceil(accounts.length / MINING_SAMPLE));
  const sample = step === 1 ? accounts : accounts.filter((_, i) => i % step === 0);
  const minCount = Math.max(1, Math.ceil(minSupport * sample.length));
  const tracks = features.flatMap((key, f) =>
    key.startsWith('event:') && doneSpecs[f] !== undefined ? [f] : [],
  );
  const singles = tracks.filter(
    (f) => sample.reduce((n, a) => (a.byFeature[f] === undefined ? n : n + 1), 0) >= minCount,
  );
  // Account by account (its times stay in cache): every ordered pair of frequent singles, then the
  // triples that extend a frequent pair with a frequent pair's second step, from the pair's time.
  const n = singles.length;
  const pairSupport = new Int32Array(n * n);
  for (const a of sample)
    for (let i = 0; i < n; i++) {
      const start = a.byFeature[singles[i] as number]?.[0];
      if (start === undefined) continue;
      for (let j = 0; j < n; j++)
        if (j !== i && nextAfter(a.byFeature[singles[j] as number], start) !== undefined)
          pairSupport[i * n + j] = (pairSupport[i * n + j] as number) + 1;
    }
  const pairs: { first: number; second: number; steps: number[]; support: number }[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      if (j !== i && (pairSupport[i * n + j] as number) >= minCount)
        pairs.push({ first: i, second: j, steps: [singles[i], singles[j]] as number[], support: pairSupport[i * n + j] as number }); // prettier-ignore
  const extensions: { pair: number; third: number }[] = [];
  for (const [p, { first, second }] of pairs.entries())
    for (let k = 0; k < n; k++)
      if (k !== first && k !== second && (pairSupport[second * n + k] as number) >= minCount)
        extensions.push({ pair: p, third: k });
  const tripleSupport = new Int32Array(extensions.length);
  const pairAt = new Float64Array(pairs.length);
  for (const a of sample) {
    for (const [p, { first, second }] of pairs.entries()) {
      const start = a.byFeature[singles[first] as number]?.[0];
      const at = start === undefined ? undefined : nextAfter(a.byFeature[singles[second] as number], start);
      pairAt[p] = at ?? Number.NaN;
    }
    for (let e = 0; e < extensions.length; e++) {
      const { pair, third } = extensions[e] as { pair: number; third: number };
      if (nextAfter(a.byFeature[singles[third] as number], pairAt[pair] as number) !== undefined)
        tripleSupport[e] = (tripleSupport[e] as number) + 1;
    }
  }
  const triples = extensions.flatMap(({ pair, third }, e) => {
    const support = tripleSupport[e] as number;
    const p = pairs[pair] as { steps: number[] };
    return support >= minCount ? [{ pair, steps: [...p.steps, singles[third] as number], support }] : [];
  });
  // Mined by frequency only (never by outcome), so the test that follows is not double-dipping.
  triples.sort((x, y) => y.support - x.support || x.steps.join().localeCompare(y.steps.join()));
  const sequence = (steps: readonly number[], prefix: CandidateSpec): CandidateSpec => {
    const keys = steps.map((f) => features[f] as string);
    return {
      id: `sequence:${keys.join('>')}`,
      kind: 'sequence',
      label: `${keys.map(featureLabel).join(' → ')} ${window}`,
      features: keys,
      threshold: steps.length,
      days: undefined,
      family: `sequence:${keys.join('>')}`,
      heldAt: (a: Prepared) => sequenceHeldAt(a, steps),
      then: { prefix, feature: steps[steps.length - 1] as number },
    };
  };
  const pairSpecs = pairs.map(({ steps }) => sequence(steps, doneSpecs[steps[0] as number] as CandidateSpec));
  const tripleSpecs = triples
    .slice(0, maxTriples)
    .map(({ pair, steps }) => sequence(steps, pairSpecs[pair] as CandidateSpec));
  return [...pairSpecs, ...tripleSpecs];
}

function funnelCandidates(funnel: FunnelSpec, features: readonly string[]): CandidateSpec[] {
  const ids = funnel.steps.map((key) => features.indexOf(key));
  const withinMs = funnel.withinDays === undefined ? undefined : funnel.withinDays * DAY_MS;
  const specs: CandidateSpec[] = [];
  for (let reached = 2; reached <= ids.length; reached++) {
    const steps = ids.slice(0, reached);
    const within = funnel.withinDays === undefined ? '' : ` within ${funnel.withinDays} days of sign-up`;
    specs.push({
      id: `funnel:${funnel.name}:${reached}`,
      kind: 'funnel',
      label: `${funnel.name}: ${reached} of ${ids.length} steps (${funnel.steps.slice(0, reached).map(featureLabel).join(' → ')})${within}`,
      features: funnel.steps.slice(0, reached),
      threshold: reached,
      days: funnel.withinDays,
      family: `funnel:${funnel.name}`,
      heldAt: (a) => {
        if (steps.some((s) => s < 0)) return undefined;
        const at = sequenceHeldAt(a, steps);
        return at !== undefined && (withinMs === undefined || at < a.signupAt + withinMs) ? at : undefined;
      },
    });
  }
  return specs;
}

/** Per candidate: accounts flagged, of them converted, lead times (days) of those, and two set hashes. */
interface Tallies {
  readonly flagged: Int32Array;
  readonly hits: Int32Array;
  readonly leads: number[][];
  readonly h1: Int32Array;
  readonly h2: Int32Array;
}

/**
 * Evaluates every candidate on every account, account by account: an account's times stay in cache across
 * the candidates, and a sequence starts from its prefix's time for the same account.
 */
function tallyAll(specs: readonly CandidateSpec[], accounts: readonly Prepared[]): Tallies {
  const count = specs.length;
  const position = new Map(specs.map((spec, i) => [spec, i]));
  // A prefix is enumerated before the sequences that extend it; -1: evaluate `heldAt`.
  const prefix = Int32Array.from(specs, (spec, i) => {
    const p = spec.then === undefined ? undefined : position.get(spec.then.prefix);
    return p !== undefined && p < i ? p : -1;
  });
  const next = Int32Array.from(specs, (spec) => spec.then?.feature ?? 0);
  const tallies: Tallies = {
    flagged: new Int32Array(count),
    hits: new Int32Array(count),
    leads: specs.map(() => []),
    // Two 32-bit hashes of the flagged accounts' indexes: equal sets give equal signatures.
    h1: new Int32Array(count).fill(0x811c9dc5),
    h2: new Int32Array(count).fill(0x9e3779b9),
  };
  const { flagged, hits, leads, h1, h2 } = tallies;
  const held = new Float64Array(count);
  for (let index = 0; index < accounts.length; index++) {
    const a = accounts[index] as Prepared;
    for (let s = 0; s < count; s++) {
      const p = prefix[s] as number;
      const at =
        p >= 0
          ? nextAfter(a.byFeature[next[s] as number], held[p] as number)
          : (specs[s] as CandidateSpec).heldAt(a);
      if (at === undefined) {
        held[s] = Number.NaN;
        continue;
      }
      held[s] = at;
      const x = h2[s] as number;
      h1[s] = Math.imul((h1[s] as number) ^ index, 0x01000193);
      h2[s] = Math.imul(x ^ index, 0x5bd1e995) ^ (x >>> 13);
      flagged[s] = (flagged[s] as number) + 1;
      if (a.converted) {
        hits[s] = (hits[s] as number) + 1;
        (leads[s] as number[]).push(((a.convertedAt as number) - at) / DAY_MS);
      }
    }
  }
  return tallies;
}

function measure(
  spec: CandidateSpec,
  tallies: Tallies,
  s: number,
  observed: number,
  positives: number,
): { stats: Omit<CandidateResult, 'qValue' | 'significant'>; signature: string } {
  const flagged = tallies.flagged[s] as number;
  const hits = tallies.hits[s] as number;
  const n0 = observed - flagged;
  const c0 = positives - hits;
  const conversionWith = flagged > 0 ? hits / flagged : 0;
  const conversionWithout = n0 > 0 ? c0 / n0 : undefined;
  const lift =
    conversionWithout === undefined || conversionWithout === 0
      ? undefined
      : conversionWith / conversionWithout;
  const { precision, recall, f1 } = precisionRecall(hits, flagged, positives);
  const stats = {
    id: spec.id,
    kind: spec.kind,
    label: spec.label,
    features: spec.features,
    threshold: spec.threshold,
    days: spec.days,
    accounts: flagged,
    converted: hits,
    conversionWith,
    conversionWithout,
    lift: lift ?? (hits > 0 && c0 === 0 ? Number.POSITIVE_INFINITY : lift),
    liftInterval: riskRatioInterval(hits, flagged, c0, n0),
    conversionInterval: wilsonInterval(hits, flagged),
    precision,
    recall,
    f1,
    medianLeadDays: median(tallies.leads[s] as number[]),
    pValue: fisherExactGreater(hits, flagged - hits, c0, n0 - c0),
  };
  const h1 = (tallies.h1[s] as number) >>> 0;
  const h2 = (tallies.h2[s] as number) >>> 0;
  return { stats, signature: `${flagged}:${h1}:${h2}` };
}

function adviseThresholds(
  predictors: readonly CandidateResult[],
  accounts: readonly Prepared[],
  features: readonly string[],
  options: { bar: number; minAccounts: number; topSignals: number; signupsPerWeek: number; observed: number },
): ThresholdAdvice[] {
  const advice: ThresholdAdvice[] = [];
  const done = new Set<string>();
  for (const p of predictors) {
    if (advice.length >= options.topSignals) break;
    let kind: ThresholdAdvice['kind'];
    let countOf: (a: Prepared) => number;
    let feature: string | undefined;
    if ((p.kind === 'done' || p.kind === 'count' || p.kind === 'within') && p.features.length === 1) {
      kind = 'count';
      feature = p.features[0] as string;
      const f = features.indexOf(feature);
      countOf = (a) => a.byFeature[f]?.length ?? 0;
    } else if (p.kind === 'users') {
      kind = 'users';
      countOf = (a) => a.userFirst.length;
    } else if (p.kind === 'invites') {
      kind = 'invites';
      const ids = p.features.map((key) => features.indexOf(key));
      countOf = (a) => ids.reduce((sum, f) => sum + (a.byFeature[f]?.length ?? 0), 0);
    } else continue;
    const family = `${kind}:${feature ?? ''}`;
    if (done.has(family)) continue;
    done.add(family);
    const counts = accounts.map(countOf);
    const positive = counts.filter((n) => n > 0).sort((x, y) => x - y);
    const grid = distinctSorted([
      1,
      ...[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((q) => quantileSorted(positive, q) ?? 1),
    ]);
    const ladder: ThresholdRung[] = grid.map((k) => {
      let n = 0;
      let c = 0;
      accounts.forEach((a, i) => {
        if ((counts[i] as number) >= k) {
          n++;
          if (a.converted) c++;
        }
      });
      return {
        threshold: k,
        accounts: n,
        converted: c,
        conversion: n > 0 ? c / n : 0,
        pqlsPerWeek: options.observed > 0 ? (options.signupsPerWeek * n) / options.observed : 0,
      };
    });
    const advised = ladder.find((r) => r.conversion >= options.bar && r.accounts >= options.minAccounts);
    const signal =
      kind === 'count'
        ? `${featureLabel(feature as string)} count`
        : kind === 'users'
          ? 'active users'
          : 'invitations';
    advice.push({ signal, kind, feature, bar: options.bar, advised, ladder });
  }
  return advice;
}

function familyOf(r: CandidateResult): string {
  if (r.kind === 'done' || r.kind === 'count' || r.kind === 'within') return r.features[0] ?? r.id;
  if (r.kind === 'users' || r.kind === 'invites') return r.kind;
  return r.id;
}

function pickPool(predictors: readonly CandidateResult[], size: number): CandidateResult[] {
  const pool: CandidateResult[] = [];
  const families = new Set<string>();
  for (const p of predictors) {
    if (pool.length >= size) break;
    const family = familyOf(p);
    if (families.has(family)) continue;
    families.add(family);
    pool.push(p);
  }
  return pool;
}

function combine(
  pool: readonly CandidateResult[],
  specById: ReadonlyMap<string, CandidateSpec>,
  accounts: readonly Prepared[],
  positives: number,
  signupsPerWeek: number,
  observed: number,
): CompositeResult[] {
  const held = pool.map((p) => accounts.map((a) => (specById.get(p.id) as CandidateSpec).heldAt(a)));
  const combos: number[][] = [];
  for (let i = 0; i < pool.length; i++)
    for (let j = i + 1; j < pool.length; j++) {
      combos.push([i, j]);
      for (let k = j + 1; k < pool.length; k++) combos.push([i, j, k]);
    }
  const results = combos.map((combo) => {
    let flagged = 0;
    let hits = 0;
    accounts.forEach((a, index) => {
      if (combo.every((c) => (held[c] as (number | undefined)[])[index] !== undefined)) {
        flagged++;
        if (a.converted) hits++;
      }
    });
    const n0 = accounts.length - flagged;
    const c0 = positives - hits;
    const { precision, recall, f1 } = precisionRecall(hits, flagged, positives);
    const without = n0 > 0 ? c0 / n0 : 0;
    return {
      ids: combo.map((c) => (pool[c] as CandidateResult).id),
      label: combo.map((c) => (pool[c] as CandidateResult).label).join(' AND '),
      accounts: flagged,
      converted: hits,
      precision,
      recall,
      f1,
      lift: flagged > 0 && without > 0 ? hits / flagged / without : undefined,
      pValue: fisherExactGreater(hits, flagged - hits, c0, n0 - c0),
      pqlsPerWeek: observed > 0 ? (signupsPerWeek * flagged) / observed : 0,
    };
  });
  return results
    .filter((r) => r.accounts > 0)
    .sort((a, b) => (b.f1 ?? 0) - (a.f1 ?? 0) || a.label.localeCompare(b.label))
    .slice(0, 5);
}

function selector(key: string): Record<string, string> {
  const colon = key.indexOf(':');
  const kind = key.slice(0, colon);
  return { [kind === 'event' ? 'event' : kind]: key.slice(colon + 1) };
}

function signalName(spec: CandidateSpec, used: Set<string>): string {
  const base =
    spec.kind === 'users' || spec.kind === 'invites'
      ? spec.kind === 'users' ? 'active_users' : 'invites' // prettier-ignore
      : (spec.features.map((k) => featureLabel(k)).join('_then_') || spec.kind)
          .toLowerCase()
          .replace(/[^a-z0-9]+/g, '_')
          .replace(/^_+|_+$/g, '')
          .replace(/^(\d)/, 's_$1') || 'signal';
  let name = `${spec.kind === 'returned' ? 'returned_after_' : ''}${base}`.slice(0, 60);
  for (let i = 2; used.has(name) || name === 'account' || name === 'trait'; i++) name = `${base}_${i}`;
  used.add(name);
  return name;
}

/** Signals of the definition language that hold exactly when the candidate does (at sign-up-anchored windows). */
function toSignals(
  spec: CandidateSpec,
  behaviourDays: number,
  returnDays: number,
  used: Set<string>,
): [string, Record<string, unknown>][] {
  const days = (spec.kind === 'within' || spec.kind === 'funnel') && spec.days !== undefined ? spec.days : behaviourDays; // prettier-ignore
  const within = `${days}d of signup`;
  const name = signalName(spec, used);
  switch (spec.kind) {
    case 'done':
    case 'within':
    case 'count':
      return [
        [name, { ...selector(spec.features[0] as string), count: { gte: spec.threshold ?? 1 }, within }],
      ];
    case 'users':
      return [[name, { distinct_users: { gte: spec.threshold }, within }]];
    case 'invites':
      return [
        [
          name,
          {
            event: spec.features.map((k) => k.slice(k.indexOf(':') + 1)),
            count: { gte: spec.threshold },
            within,
          },
        ],
      ];
    case 'returned': {
      const first = `first_${name.replace(/^returned_after_/, '')}`;
      used.add(first);
      return [
        [first, { ...selector(spec.features[0] as string), count: { gte: 1 }, within }],
        [name, { returned_within: `${returnDays}d`, after: first }],
      ];
    }
    case 'sequence':
    case 'funnel':
      return [[name, { funnel: spec.features.map(selector), within }]];
  }
}

function suggestDefinition(
  top: CandidateResult | undefined,
  composite: CompositeResult | undefined,
  specById: ReadonlyMap<string, CandidateSpec>,
  behaviourDays: number,
  returnDays: number,
): Readonly<Record<string, unknown>> | undefined {
  if (top === undefined) return undefined;
  const useComposite = composite !== undefined && (composite.f1 ?? 0) > (top.f1 ?? 0);
  const ids = useComposite ? composite.ids : [top.id];
  const used = new Set<string>();
  const signals: Record<string, unknown> = {};
  const qualify: string[] = [];
  for (const id of ids) {
    const spec = specById.get(id) as CandidateSpec;
    const pairs = toSignals(spec, behaviourDays, returnDays, used);
    for (const [name, signal] of pairs) signals[name] = signal;
    qualify.push((pairs[pairs.length - 1] as [string, unknown])[0]);
  }
  const measured = useComposite ? composite : top;
  const pct = (x: number | undefined): string => (x === undefined ? '?' : `${(x * 100).toFixed(1)}%`);
  return {
    id: 'discovered-pql',
    name: 'Discovered PQL',
    description: `Suggested by pql discover: ${useComposite ? composite.label : top.label}. Measured precision ${pct(measured.precision)}, recall ${pct(measured.recall)} over accounts observed ${behaviourDays} days.`,
    signals,
    qualify: { all: qualify },
    exclude: { trait: 'paying', eq: true },
    expire: '30d',
  };
}
