import { describe, expect, it } from 'vitest';
import { parseDefinition } from '../definitions/parse-definition.js';
import { DAY_MS, type AccountTimeline, type AnalysisData } from './account-timeline.js';
import { discoverSignals, funnelsFromDefinitions, type CandidateResult } from './discover-signals.js';

const START = Date.UTC(2026, 0, 5);

/** One account: sign-up day, conversion day (after sign-up) and behaviour as [feature, day, user]. */
interface AccountSpec {
  readonly signupDay: number;
  readonly convertedDay?: number;
  readonly events: readonly (readonly [feature: string, day: number, user?: number])[];
}

function world(specs: readonly AccountSpec[], dataEndDay: number): AnalysisData {
  const features: string[] = [];
  const featureId = (key: string): number => {
    const i = features.indexOf(key);
    if (i >= 0) return i;
    features.push(key);
    return features.length - 1;
  };
  const accounts: AccountTimeline[] = specs.map((spec, i) => {
    const signupAt = START + spec.signupDay * DAY_MS;
    const events = [...spec.events].sort((a, b) => a[1] - b[1]);
    return {
      accountId: `acc_${String(i).padStart(4, '0')}`,
      signupAt,
      convertedAt: spec.convertedDay === undefined ? undefined : signupAt + spec.convertedDay * DAY_MS,
      mqlAt: undefined,
      owner: undefined,
      mrr: [],
      features: Uint16Array.from(events.map((e) => featureId(e[0]))),
      times: Float64Array.from(events.map((e) => signupAt + e[1] * DAY_MS)),
      users: Uint16Array.from(events.map((e) => e[2] ?? 0)),
    };
  });
  return { features, accounts, dataEnd: START + dataEndDay * DAY_MS };
}

function repeat<T>(n: number, make: (i: number) => T): T[] {
  return Array.from({ length: n }, (_, i) => make(i));
}

/** Deterministic PRNG (mulberry32) so the null world is the same on every run. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const byId = (candidates: readonly CandidateResult[], id: string): CandidateResult => {
  const found = candidates.find((c) => c.id === id);
  if (found === undefined) throw new Error(`no candidate ${id}`);
  return found;
};

/**
 * 40 observed accounts. 20 ran a workflow on day 2: 10 of them pay on day 10. 20 did not: 2 pay on day 20,
 * one of which runs a workflow on day 25, after paying (not before, so it is still "without").
 * Docs is read by half of each group (5 converters of 10 with the workflow...), independent of paying.
 * Converters download an invoice the day after paying (after-paying behaviour, the leakage trap).
 * 5 more accounts signed up 30 days before the data's end: too young for a 90-day horizon.
 */
function handWorld(): AnalysisData {
  const withRun = repeat<AccountSpec>(20, (i) => ({
    signupDay: i,
    ...(i < 10 ? { convertedDay: 10 } : {}),
    events: [
      ['event:Workflow Run', 2],
      ...(i % 2 === 0 ? ([['page:Docs', 1]] as const) : []),
      ...(i < 10 ? ([['event:Invoice Downloaded', 11]] as const) : []),
    ],
  }));
  const withoutRun = repeat<AccountSpec>(20, (i) => ({
    signupDay: i,
    ...(i < 2 ? { convertedDay: 20 } : {}),
    events: [
      ['event:Project Created', 1],
      ...(i === 0 ? ([['event:Workflow Run', 25]] as const) : []),
      ...(i % 2 === 0 ? ([['page:Docs', 1]] as const) : []),
      ...(i < 2 ? ([['event:Invoice Downloaded', 21]] as const) : []),
    ],
  }));
  const young = repeat<AccountSpec>(5, () => ({
    signupDay: 170,
    convertedDay: 3,
    events: [['event:Workflow Run', 1]],
  }));
  return world([...withRun, ...withoutRun, ...young], 200);
}

describe('discoverSignals on a hand-built world', () => {
  const report = discoverSignals(handWorld(), { minAccounts: 3 });

  it('leaves out and counts accounts too young for the horizon', () => {
    expect(report.population).toMatchObject({
      accounts: 45,
      observed: 40,
      tooYoung: 5,
      converted: 12,
      baseRate: 12 / 40,
    });
  });

  it('measures rates, lift, precision, recall, F1, lead time and the one-sided Fisher p by hand', () => {
    const run = byId(report.candidates, 'done:event:Workflow Run');
    // With: 20 accounts, 10 paid (day 2 → day 10: 8 days lead). Without: 20, 2 paid.
    expect(run).toMatchObject({
      accounts: 20,
      converted: 10,
      conversionWith: 0.5,
      conversionWithout: 0.1,
      precision: 0.5,
      recall: 10 / 12,
      f1: 0.625,
      medianLeadDays: 8,
      significant: true,
    });
    expect(run.lift).toBeCloseTo(5, 12);
    // P(X >= 10) for rows 20/20 and 12 converters of 40, summed by hand (statistics.test.ts).
    expect(run.pValue).toBeCloseTo(0.006907073925983826, 12);
    const [low, high] = run.liftInterval as readonly [number, number];
    expect(low).toBeGreaterThan(1);
    expect(high).toBeGreaterThan(5);
    expect(report.predictors[0]?.features).toEqual(['event:Workflow Run']);
  });

  it('finds behaviour independent of paying not significant: lift 1 and p near 1', () => {
    const docs = byId(report.candidates, 'done:page:Docs');
    // Docs: 10 of the 20 with a run (5 paid) and 10 of the 20 without (1 paid): 6 of 20 vs 6 of 20.
    expect(docs).toMatchObject({ accounts: 20, converted: 6, conversionWith: 0.3, conversionWithout: 0.3 });
    expect(docs.lift).toBeCloseTo(1, 12);
    expect(docs.significant).toBe(false);
    expect(report.predictors.some((p) => p.features.includes('page:Docs'))).toBe(false);
  });

  it('never counts behaviour that happened after paying (invoice downloads are no candidate at all)', () => {
    // Every Invoice Downloaded comes after its account paid: no account has it before converting.
    expect(report.candidates.some((c) => c.features.includes('event:Invoice Downloaded'))).toBe(false);
    const ranWithoutPaying = byId(report.candidates, 'done:event:Workflow Run');
    expect(ranWithoutPaying.accounts).toBe(20);
  });

  it('corrects the p-values with Benjamini-Hochberg across every tested candidate', () => {
    const sorted = [...report.candidates].sort((a, b) => a.pValue - b.pValue);
    const m = sorted.length;
    expect(m).toBe(report.tested);
    let running = 1;
    const expected = new Map<string, number>();
    for (let rank = m; rank >= 1; rank--) {
      const c = sorted[rank - 1] as CandidateResult;
      running = Math.min(running, (c.pValue * m) / rank);
      expected.set(c.id, Math.min(1, running));
    }
    for (const c of report.candidates) expect(c.qValue).toBeCloseTo(expected.get(c.id) as number, 12);
    expect(report.verdict).toMatch(/predict conversion after Benjamini-Hochberg/);
  });

  it('suggests a definition that parses in the definition language and names the top signal', () => {
    const definition = report.suggestedDefinition;
    expect(definition).toBeDefined();
    const parsed = parseDefinition(definition);
    expect(parsed.ok ? [] : parsed.issues).toEqual([]);
    expect(JSON.stringify(definition)).toContain('Workflow Run');
  });

  it('advises a threshold with the PQLs per week it would give', () => {
    // The default bar is twice the base rate (60%): one run gives 50%, and no count reaches it.
    const strict = report.thresholds.find((t) => t.feature === 'event:Workflow Run');
    expect(strict?.bar).toBeCloseTo(0.6, 12);
    expect(strict?.advised).toBeUndefined();
    expect(strict?.ladder[0]).toMatchObject({ threshold: 1, accounts: 20, converted: 10 });
    const lenient = discoverSignals(handWorld(), { minAccounts: 3, bar: 0.4 });
    const advice = lenient.thresholds.find((t) => t.feature === 'event:Workflow Run');
    expect(advice?.advised).toMatchObject({ threshold: 1, accounts: 20, converted: 10, conversion: 0.5 });
    // 40 observed accounts signed up over days 0..19 (19/7 weeks); half of them qualify.
    expect(advice?.advised?.pqlsPerWeek).toBeCloseTo(20 / (19 / 7), 10);
  });
});

describe('discoverSignals on a null world', () => {
  it('says nothing is significant after correction when behaviour is independent of paying', () => {
    const next = random(20260105);
    const features = repeat(8, (i) => `event:Feature ${i}`);
    const specs = repeat<AccountSpec>(600, (i) => {
      const converts = next() < 0.15;
      const events: [string, number, number][] = [];
      for (const feature of features) {
        if (next() >= 0.45) continue;
        const count = 1 + Math.floor(next() * 6);
        for (let k = 0; k < count; k++) events.push([feature, next() * 29.9, Math.floor(next() * 3)]);
      }
      // Some pay inside the behaviour window, so the cut at conversion is exercised too.
      return { signupDay: i % 120, ...(converts ? { convertedDay: 5 + next() * 80 } : {}), events };
    });
    const report = discoverSignals(world(specs, 300));
    expect(report.population.observed).toBe(600);
    expect(report.tested).toBeGreaterThan(50);
    // Uncorrected, some candidates would pass at 5%: the correction is what keeps them out.
    expect(report.candidates.filter((c) => c.pValue < 0.05).length).toBeGreaterThan(0);
    expect(report.predictors).toEqual([]);
    expect(report.candidates.filter((c) => c.significant)).toEqual([]);
    expect(report.suggestedDefinition).toBeUndefined();
    expect(report.composites).toEqual([]);
    expect(report.verdict).toMatch(/^nothing significant after Benjamini-Hochberg correction/);
  });
});

describe('discoverSignals candidates', () => {
  it('finds "within N days", count, active users, invites, return and mined sequences with hand-counted accounts', () => {
    // 12 accounts create a project on day 0, then a workflow on day 0.5, return on day 2 (a later UTC day);
    // they have 3 users and send 2 invites. 8 paid on day 40. 12 others do the same steps on day 20, alone
    // (1 paid), and 6 only read the docs (2 paid).
    const active = repeat<AccountSpec>(12, (i) => ({
      signupDay: i,
      ...(i < 8 ? { convertedDay: 40 } : {}),
      events: [
        ['event:Project Created', 0.1, 0],
        ['event:Workflow Created', 0.5, 1],
        ['event:Teammate Invited', 0.6, 0],
        ...(i >= 2 ? ([['event:Teammate Invited', 0.7, 0]] as const) : []),
        ['page:Docs', i === 11 ? 9 : 2, i < 10 ? 2 : 0],
      ],
    }));
    const late = repeat<AccountSpec>(12, (i) => ({
      signupDay: i,
      ...(i < 1 ? { convertedDay: 40 } : {}),
      events: [
        ['event:Project Created', 20.1],
        ['event:Workflow Created', i < 3 ? 19.9 : 20.5],
        ['page:Docs', 28.6],
      ],
    }));
    const idle = repeat<AccountSpec>(6, (i) => ({
      signupDay: i,
      ...(i < 2 ? { convertedDay: 40 } : {}),
      events: [['page:Docs', 1]],
    }));
    const report = discoverSignals(world([...active, ...late, ...idle], 200), { minAccounts: 3 });
    const ids = new Set(report.candidates.map((c) => c.id));
    for (const id of [
      'within:event:Project Created:1d',
      'users:3',
      'returned:event:Workflow Created:7d',
      'sequence:event:Project Created>event:Workflow Created',
    ])
      expect(ids.has(id), id).toBe(true);
    const within = byId(report.candidates, 'within:event:Project Created:1d');
    expect(within).toMatchObject({ accounts: 12, converted: 8, conversionWithout: 3 / 18 });
    expect(within.lift).toBeCloseTo(8 / 12 / (3 / 18), 12);
    // A third user in active accounts 0..9 (8 paid); a second invite in active accounts 2..11 (6 paid).
    expect(byId(report.candidates, 'users:3')).toMatchObject({ accounts: 10, converted: 8 });
    // With one invite event, "2+ invitations" flags the accounts "Teammate Invited 2+ times" flags: kept once.
    expect(byId(report.candidates, 'count:event:Teammate Invited:2')).toMatchObject({
      accounts: 10,
      converted: 6,
    });
    expect(report.candidates.some((c) => c.id === 'invites:2')).toBe(false);
    expect(report.redundant).toBeGreaterThan(0);
    // Returned: active accounts except 11 (back on day 9), and the 3 late ones that created the workflow
    // at 21:36 and a project at 02:24 the next UTC day (1 paid); the rest of the late group is back 8.1 days later.
    expect(byId(report.candidates, 'returned:event:Workflow Created:7d')).toMatchObject({
      accounts: 14,
      converted: 9,
    });
    // The pair in order: every active account and 9 late ones (3 created the workflow first, 1 of them paid).
    const pair = byId(report.candidates, 'sequence:event:Project Created>event:Workflow Created');
    expect(pair).toMatchObject({ accounts: 21, converted: 8, conversionWithout: 3 / 9 });
    expect(report.predictors.map((p) => p.id)).toContain('within:event:Project Created:1d');
  });

  it('counts every mined pair and triple as a step-by-step scan of each account does', () => {
    // 300 accounts doing 4 events in random order on whole days (ties are common); some pay. Each mined sequence is checked
    // against a scan written here: the steps in order, each after the previous one, all before the cutoff.
    const next = random(11);
    const names = ['event:A', 'event:B', 'event:C', 'event:D'];
    const specs = repeat<AccountSpec>(300, (i) => ({
      signupDay: i % 50,
      ...(next() < 0.3 ? { convertedDay: 5 + Math.floor(next() * 40) } : {}),
      events: repeat(1 + Math.floor(next() * 8), () => [
        names[Math.floor(next() * names.length)] as string,
        Math.floor(next() * 30),
      ]),
    }));
    const report = discoverSignals(world(specs, 300), { minAccounts: 1, minSupport: 0.05 });
    const sequences = report.candidates.filter((c) => c.kind === 'sequence');
    expect(sequences.filter((c) => c.features.length === 3).length).toBeGreaterThan(3);
    for (const candidate of sequences) {
      let accounts = 0;
      let converted = 0;
      for (const spec of specs) {
        const cutoff = Math.min(30, spec.convertedDay === undefined ? Infinity : spec.convertedDay - 1);
        const events = [...spec.events].sort((x, y) => x[1] - y[1]).filter((e) => e[1] < cutoff);
        let step = 0;
        let last = -1;
        for (const [feature, day] of events)
          if (step < candidate.features.length && feature === candidate.features[step] && day > last) {
            step++;
            last = day;
          }
        if (step === candidate.features.length) {
          accounts++;
          if (spec.convertedDay !== undefined) converted++;
        }
      }
      expect({ id: candidate.id, accounts: candidate.accounts, converted: candidate.converted }).toEqual({
        id: candidate.id,
        accounts,
        converted,
      });
    }
  });

  it('tests the funnels of definitions within their sign-up window', () => {
    const parsed = parseDefinition({
      id: 'wf',
      name: 'wf',
      signals: {
        funnel: { funnel: ['Project Created', 'Workflow Run'], within: '14d of signup' },
      },
      qualify: 'funnel',
    });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const funnels = funnelsFromDefinitions([parsed.value]);
    expect(funnels).toEqual([
      { name: 'wf.funnel', steps: ['event:Project Created', 'event:Workflow Run'], withinDays: 14 },
    ]);
    // 10 accounts finish on day 3 (6 pay), 10 finish on day 20 (1 pays), 10 never run one (1 pays),
    // 5 run one on day 2 before creating a project on day 3 (out of order: not the funnel; none pays).
    const specs = [
      ...repeat<AccountSpec>(10, (i) => ({
        signupDay: i,
        ...(i < 6 ? { convertedDay: 50 } : {}),
        events: [
          ['event:Project Created', 1],
          ['event:Workflow Run', 3],
        ],
      })),
      ...repeat<AccountSpec>(10, (i) => ({
        signupDay: i,
        ...(i < 1 ? { convertedDay: 50 } : {}),
        events: [
          ['event:Project Created', 1],
          ['event:Workflow Run', 20],
        ],
      })),
      ...repeat<AccountSpec>(10, (i) => ({
        signupDay: i,
        ...(i < 1 ? { convertedDay: 50 } : {}),
        events: [['event:Project Created', 1]],
      })),
      ...repeat<AccountSpec>(5, (i) => ({
        signupDay: i,
        events: [
          ['event:Workflow Run', 2],
          ['event:Project Created', 3],
        ],
      })),
    ];
    const report = discoverSignals(world(specs, 200), { minAccounts: 3, funnels });
    const funnel = byId(report.candidates, 'funnel:wf.funnel:2');
    expect(funnel).toMatchObject({ accounts: 10, converted: 6, conversionWithout: 2 / 25, days: 14 });
    expect(funnel.lift).toBeCloseTo(0.6 / 0.08, 12);
    // Within 14 days also flags these 15, so it is kept once, as the shorter window.
    expect(byId(report.candidates, 'within:event:Workflow Run:7d').accounts).toBe(15);
  });
});
