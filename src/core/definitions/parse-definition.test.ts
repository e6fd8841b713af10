import { describe, expect, it } from 'vitest';
import type { Issue } from '../issues.js';
import type { Definition, SignalSpec } from './definition.js';
import { parseDefinition, parseDefinitionSet } from './parse-definition.js';

const DAY = 86_400_000;

/** The example of DESIGN.md "Definition language", as YAML would load it. */
const seed = {
  id: 'devtool-activated',
  name: 'Activated devtool workspace',
  fit: {
    all: [
      { trait: 'employees', gte: 10 },
      { trait: 'country', in: ['US', 'CA', 'GB', 'DE'] },
    ],
  },
  signals: {
    first_call: { event: 'API Call Made', count: { gte: 1 } },
    returned: { returned_within: '7d', after: 'first_call' },
    volume: { event: 'Events Processed', sum: 'properties.count', gte: 1000, window: '30d' },
    team: { distinct_users: { gte: 3 }, window: '30d' },
    workflow: {
      funnel: ['Project Created', 'Workflow Created', 'Step Added', 'Workflow Run'],
      reached: 4,
      within: '14d of signup',
    },
  },
  qualify: { all: ['first_call', 'returned', 'volume'] },
  exclude: { any: [{ trait: 'paying', eq: true }] },
  expire: '30d',
  route: { owner: 'crm', fallback: { round_robin: ['owner-1', 'owner-2'] }, channel: 'slack:#pql' },
  next_step: 'Offer a team-plan walkthrough; they processed {{volume.value}} events',
};

/** A minimal valid definition to vary in one place per test. */
function minimal(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'x',
    name: 'X',
    signals: { first_call: { event: 'API Call Made' } },
    qualify: 'first_call',
    ...overrides,
  };
}

function issuesOf(input: unknown): readonly Issue[] {
  const parsed = parseDefinition(input);
  if (parsed.ok) throw new Error('expected the definition to be rejected');
  return parsed.issues;
}

function valueOf(input: unknown): Definition {
  const parsed = parseDefinition(input);
  if (!parsed.ok) throw new Error(`expected the definition to parse: ${JSON.stringify(parsed.issues)}`);
  return parsed.value;
}

function signal(spec: unknown): SignalSpec {
  const definition = valueOf(minimal({ signals: { first_call: { event: 'API Call Made' }, s: spec } }));
  const found = definition.signals.find((entry) => entry.name === 's');
  if (found === undefined) throw new Error('signal s missing');
  return found.spec;
}

function track(...names: string[]) {
  return { types: ['track'], names, where: [] };
}

describe('parseDefinition: the seed example', () => {
  it('normalizes into the exact AST the engine compiles', () => {
    expect(parseDefinition(seed)).toStrictEqual({
      ok: true,
      value: {
        id: 'devtool-activated',
        name: 'Activated devtool workspace',
        description: undefined,
        fit: {
          kind: 'all',
          of: [
            { kind: 'trait', trait: 'employees', op: 'gte', value: 10 },
            { kind: 'trait', trait: 'country', op: 'in', value: ['US', 'CA', 'GB', 'DE'] },
          ],
        },
        signals: [
          {
            name: 'first_call',
            spec: {
              kind: 'count',
              selector: track('API Call Made'),
              window: { kind: 'all' },
              compare: { op: 'gte', value: 1 },
            },
          },
          { name: 'returned', spec: { kind: 'returned', withinMs: 7 * DAY, after: 'first_call' } },
          {
            name: 'volume',
            spec: {
              kind: 'sum',
              selector: track('Events Processed'),
              property: ['count'],
              window: { kind: 'rolling', ms: 30 * DAY },
              compare: { op: 'gte', value: 1000 },
            },
          },
          {
            name: 'team',
            spec: {
              kind: 'distinct_users',
              selector: { types: ['track', 'page', 'screen'], names: undefined, where: [] },
              window: { kind: 'rolling', ms: 30 * DAY },
              compare: { op: 'gte', value: 3 },
            },
          },
          {
            name: 'workflow',
            spec: {
              kind: 'funnel',
              steps: [
                track('Project Created'),
                track('Workflow Created'),
                track('Step Added'),
                track('Workflow Run'),
              ],
              stepLabels: ['Project Created', 'Workflow Created', 'Step Added', 'Workflow Run'],
              reached: 4,
              window: { kind: 'signup', ms: 14 * DAY },
            },
          },
        ],
        qualify: {
          kind: 'all',
          of: [
            { kind: 'signal', name: 'first_call' },
            { kind: 'signal', name: 'returned' },
            { kind: 'signal', name: 'volume' },
          ],
        },
        exclude: { kind: 'any', of: [{ kind: 'trait', trait: 'paying', op: 'eq', value: true }] },
        expireMs: 30 * DAY,
        route: {
          owner: 'crm',
          territories: undefined,
          segments: undefined,
          fallback: { roundRobin: ['owner-1', 'owner-2'] },
          channel: 'slack:#pql',
        },
        nextStep: 'Offer a team-plan walkthrough; they processed {{volume.value}} events',
        contentHash: '681595958428736e',
      },
    });
  });
});

describe('parseDefinition: signal forms', () => {
  it('treats a selector without a measure as a count of at least 1, and a bare count as "at least"', () => {
    expect([signal({ event: 'Step Added' }), signal({ event: 'Step Added', count: 3 })]).toStrictEqual([
      {
        kind: 'count',
        selector: track('Step Added'),
        window: { kind: 'all' },
        compare: { op: 'gte', value: 1 },
      },
      {
        kind: 'count',
        selector: track('Step Added'),
        window: { kind: 'all' },
        compare: { op: 'gte', value: 3 },
      },
    ]);
  });

  it('reads page and screen selectors, lists of names, "*" for any name, and where predicates without the properties prefix', () => {
    expect([
      signal({ page: ['Pricing', 'Billing'], count: { gte: 2 } }),
      signal({ page: '*', count: { lt: 5 } }),
      signal({
        screen: 'Home',
        where: [
          { property: 'properties.plan.name', eq: 'pro' },
          { property: 'properties.seats', gte: 5 },
          { property: 'properties.ref', matches: '^partner-' },
        ],
      }),
    ]).toStrictEqual([
      {
        kind: 'count',
        selector: { types: ['page'], names: ['Pricing', 'Billing'], where: [] },
        window: { kind: 'all' },
        compare: { op: 'gte', value: 2 },
      },
      {
        kind: 'count',
        selector: { types: ['page'], names: undefined, where: [] },
        window: { kind: 'all' },
        compare: { op: 'lt', value: 5 },
      },
      {
        kind: 'count',
        selector: {
          types: ['screen'],
          names: ['Home'],
          where: [
            { path: ['plan', 'name'], op: 'eq', value: 'pro' },
            { path: ['seats'], op: 'gte', value: 5 },
            { path: ['ref'], op: 'matches', value: '^partner-' },
          ],
        },
        window: { kind: 'all' },
        compare: { op: 'gte', value: 1 },
      },
    ]);
  });

  it('reads distinct with the comparison at signal level, and distinct_users narrowed by a selector', () => {
    expect([
      signal({ event: ['Integration Connected'], distinct: 'properties.integration', gte: 2 }),
      signal({ distinct_users: 2, event: 'Dashboard Viewed' }),
    ]).toStrictEqual([
      {
        kind: 'distinct',
        selector: track('Integration Connected'),
        property: ['integration'],
        window: { kind: 'all' },
        compare: { op: 'gte', value: 2 },
      },
      {
        kind: 'distinct_users',
        selector: track('Dashboard Viewed'),
        window: { kind: 'all' },
        compare: { op: 'gte', value: 2 },
      },
    ]);
  });

  it('reads the window forms: rolling, anchored at sign-up, anchored at a signal with and without an end', () => {
    const windows = [
      { event: 'A', window: '30d' },
      { event: 'A', within: '14d of signup' },
      { event: 'A', within: '7d', after: 'first_call' },
      { event: 'A', after: 'first_call' },
      { event: 'A' },
    ].map((spec) => {
      const parsed = signal(spec);
      return parsed.kind === 'count' ? parsed.window : undefined;
    });
    expect(windows).toStrictEqual([
      { kind: 'rolling', ms: 30 * DAY },
      { kind: 'signup', ms: 14 * DAY },
      { kind: 'after', signal: 'first_call', ms: 7 * DAY },
      { kind: 'after', signal: 'first_call', ms: undefined },
      { kind: 'all' },
    ]);
  });

  it('reads funnel steps written as selectors, reached defaulting to every step, and a window from the first step', () => {
    expect(
      signal({
        funnel: [
          'Project Created',
          { event: 'Workflow Run', where: [{ property: 'properties.ok', eq: true }] },
          { page: 'Billing' },
        ],
        within: '3d',
      }),
    ).toStrictEqual({
      kind: 'funnel',
      steps: [
        track('Project Created'),
        { types: ['track'], names: ['Workflow Run'], where: [{ path: ['ok'], op: 'eq', value: true }] },
        { types: ['page'], names: ['Billing'], where: [] },
      ],
      stepLabels: ['Project Created', 'Workflow Run', 'Billing'],
      reached: 3,
      window: { kind: 'first_step', ms: 3 * DAY },
    });
  });

  it('reads conditions: a list means all, { signal }, not, and every trait operator', () => {
    const definition = valueOf(
      minimal({
        fit: [
          { trait: 'crm.employees', gt: 9 },
          { trait: 'created_at', gte: '2024-01-01' },
          { not: { trait: 'industry', not_in: ['Gambling'] } },
          { trait: 'domain', exists: true },
          {
            any: [
              { trait: 'plan', neq: 'free' },
              { trait: 'name', matches: '^Acme' },
              { trait: 'country', lte: 5 },
            ],
          },
        ],
        qualify: { any: [{ signal: 'first_call' }, { not: 'first_call' }] },
      }),
    );
    expect([definition.fit, definition.qualify]).toStrictEqual([
      {
        kind: 'all',
        of: [
          { kind: 'trait', trait: 'crm.employees', op: 'gt', value: 9 },
          { kind: 'trait', trait: 'created_at', op: 'gte', value: '2024-01-01' },
          { kind: 'not', of: { kind: 'trait', trait: 'industry', op: 'not_in', value: ['Gambling'] } },
          { kind: 'trait', trait: 'domain', op: 'exists', value: true },
          {
            kind: 'any',
            of: [
              { kind: 'trait', trait: 'plan', op: 'neq', value: 'free' },
              { kind: 'trait', trait: 'name', op: 'matches', value: '^Acme' },
              { kind: 'trait', trait: 'country', op: 'lte', value: 5 },
            ],
          },
        ],
      },
      {
        kind: 'any',
        of: [
          { kind: 'signal', name: 'first_call' },
          { kind: 'not', of: { kind: 'signal', name: 'first_call' } },
        ],
      },
    ]);
  });

  it('reads a route with a single fallback owner', () => {
    expect(valueOf(minimal({ route: { fallback: { owner: 'owner-7' } } })).route).toStrictEqual({
      owner: undefined,
      territories: undefined,
      segments: undefined,
      fallback: { owner: 'owner-7' },
      channel: undefined,
    });
  });

  it("reads a route's own territories (countries in upper case) and segments (either bound optional)", () => {
    const route = {
      owner: 'crm',
      territories: [{ territory: 'DACH', countries: ['de', 'AT', 'CH'] }],
      segments: [
        { name: 'enterprise', min_employees: 500, owners: ['owner-3', 'owner-4'] },
        { name: 'smb', max_employees: 49, owners: ['owner-5'] },
        { name: 'mid', min_employees: 50, max_employees: 499, owners: ['owner-6'] },
      ],
      fallback: { owner: 'owner-1' },
    };
    expect(valueOf(minimal({ route })).route).toStrictEqual({
      owner: 'crm',
      territories: [{ territory: 'DACH', countries: ['DE', 'AT', 'CH'] }],
      segments: [
        { name: 'enterprise', minEmployees: 500, maxEmployees: undefined, owners: ['owner-3', 'owner-4'] },
        { name: 'smb', minEmployees: undefined, maxEmployees: 49, owners: ['owner-5'] },
        { name: 'mid', minEmployees: 50, maxEmployees: 499, owners: ['owner-6'] },
      ],
      fallback: { owner: 'owner-1' },
      channel: undefined,
    });
  });

  it('keeps the content hash of a definition without route rules, and changes it when rules are added', () => {
    const without = valueOf(minimal({ route: { owner: 'crm' } })).contentHash;
    expect(valueOf(minimal({ route: { owner: 'crm' } })).contentHash).toBe(without);
    const withRules = minimal({
      route: { owner: 'crm', segments: [{ name: 'big', min_employees: 500, owners: ['o1'] }] },
    });
    expect(valueOf(withRules).contentHash).not.toBe(without);
  });
});

describe('parseDefinition: structural errors', () => {
  const cases: [string, Record<string, unknown>, Issue[]][] = [
    [
      'a duration in words',
      minimal({
        signals: { volume: { event: 'E', sum: 'properties.count', gte: 1, window: '30 days' } },
        qualify: 'volume',
      }),
      [
        {
          path: 'signals.volume.window',
          code: 'invalid_duration',
          message: 'expected a duration like "30d", got "30 days"',
        },
      ],
    ],
    [
      'a misspelt key',
      minimal({ signals: { first_call: { event: 'A', windw: '3d' } } }),
      [
        {
          path: 'signals.first_call.windw',
          code: 'unknown_key',
          message: 'unknown key "windw"; did you mean "window"?',
        },
      ],
    ],
    [
      'a missing required key',
      { id: 'x', signals: { a: { event: 'A' } }, qualify: 'a' },
      [{ path: 'name', code: 'required', message: 'missing required key "name"' }],
    ],
    [
      'a bad id',
      minimal({ id: 'Devtool Activated' }),
      [
        {
          path: 'id',
          code: 'invalid_value',
          message:
            'expected an id of lowercase letters, digits, "-" and "_" (like "devtool-activated"), got "Devtool Activated"',
        },
      ],
    ],
    [
      'a bad signal name',
      minimal({ signals: { 'First Call': { event: 'A' } }, qualify: 'First Call' }),
      [
        {
          path: 'signals.First Call',
          code: 'invalid_value',
          message:
            'expected a signal name of lowercase letters, digits and "_" (like "first_call"), got "First Call"',
        },
      ],
    ],
    [
      'a wrong type in a fit predicate',
      minimal({ fit: { all: [{ trait: 'employees', gte: 'ten' }] } }),
      [
        {
          path: 'fit.all[0].gte',
          code: 'invalid_value',
          message: 'expected a number or an ISO date like "2024-01-31", got "ten"',
        },
      ],
    ],
    [
      'two predicate operators',
      minimal({ exclude: { trait: 'employees', gte: 1, lt: 5 } }),
      [
        {
          path: 'exclude',
          code: 'exactly_one',
          message:
            'expected exactly one of eq, neq, in, not_in, gt, gte, lt, lte, exists, matches, got gte and lt',
        },
      ],
    ],
    [
      'a predicate without an operator',
      minimal({ exclude: { trait: 'paying' } }),
      [
        {
          path: 'exclude',
          code: 'exactly_one',
          message: 'expected exactly one of eq, neq, in, not_in, gt, gte, lt, lte, exists, matches, got none',
        },
      ],
    ],
    [
      'two comparison operators on a sum',
      minimal({ signals: { v: { event: 'E', sum: 'properties.count', gte: 1, lte: 9 } }, qualify: 'v' }),
      [
        {
          path: 'signals.v',
          code: 'exactly_one',
          message: 'expected exactly one of gte, gt, lte, lt, eq, got gte and lte',
        },
      ],
    ],
    [
      'a bad regular expression',
      minimal({ fit: { trait: 'name', matches: '(acme' } }),
      [
        {
          path: 'fit.matches',
          code: 'invalid_regex',
          message: 'expected a valid regular expression, got "(acme" (Unterminated group)',
        },
      ],
    ],
    [
      'a list operand that is not a list',
      minimal({ fit: { trait: 'country', in: 'US' } }),
      [{ path: 'fit.in', code: 'invalid_type', message: 'expected a list, got "US"' }],
    ],
    [
      'a property path without the properties prefix',
      minimal({ signals: { v: { event: 'E', sum: 'count', gte: 1 } }, qualify: 'v' }),
      [
        {
          path: 'signals.v.sum',
          code: 'invalid_value',
          message:
            'expected a property path starting with "properties." (like "properties.plan"), got "count"',
        },
      ],
    ],
    [
      'two measures in one signal',
      minimal({
        signals: { v: { event: 'E', sum: 'properties.a', distinct: 'properties.b', gte: 1 } },
        qualify: 'v',
      }),
      [
        {
          path: 'signals.v',
          code: 'ambiguous',
          message:
            'expected only one of returned_within, funnel, distinct_users, sum, distinct, count, got "sum" and "distinct"',
        },
      ],
    ],
    [
      'a signal with neither selector nor measure',
      minimal({ signals: { v: { window: '3d' } }, qualify: 'v' }),
      [
        {
          path: 'signals.v',
          code: 'invalid_value',
          message:
            'expected a signal (a mapping with one of event, page, screen, returned_within, funnel, distinct_users, sum, distinct, count), got a mapping with "window"',
        },
      ],
    ],
    [
      'a count without a selector',
      minimal({ signals: { v: { count: 3 } }, qualify: 'v' }),
      [
        {
          path: 'signals.v',
          code: 'exactly_one',
          message: 'expected exactly one of event, page, screen, got none',
        },
      ],
    ],
    [
      'a plain within without after',
      minimal({ signals: { v: { event: 'E', within: '14d' } }, qualify: 'v' }),
      [
        {
          path: 'signals.v.within',
          code: 'invalid_window',
          message:
            'a plain "within" needs an anchor: write "within: 14d of signup" (from sign-up) or "within: 7d" with "after: <signal>" (from when that signal first held); for a rolling window write "window: 30d"',
        },
      ],
    ],
    [
      'within of something other than signup',
      minimal({ signals: { v: { event: 'E', within: '14d of trial' } }, qualify: 'v' }),
      [
        {
          path: 'signals.v.within',
          code: 'invalid_duration',
          message: 'expected a duration like "14d" or "14d of signup", got "14d of trial"',
        },
      ],
    ],
    [
      'window together with within',
      minimal({ signals: { v: { event: 'E', window: '3d', within: '3d of signup' } }, qualify: 'v' }),
      [
        {
          path: 'signals.v',
          code: 'exclusive_keys',
          message: '"window" and "within" cannot be used together',
        },
      ],
    ],
    [
      'within of signup together with after',
      minimal({
        signals: {
          first_call: { event: 'A' },
          v: { event: 'E', within: '3d of signup', after: 'first_call' },
        },
        qualify: 'v',
      }),
      [
        {
          path: 'signals.v.within',
          code: 'invalid_window',
          message:
            '"within: ... of signup" cannot be combined with "after"; anchor the window at sign-up or at the signal, not both',
        },
      ],
    ],
    [
      'funnel reached beyond its steps',
      minimal({ signals: { f: { funnel: ['A', 'B'], reached: 3 } }, qualify: 'f' }),
      [
        {
          path: 'signals.f.reached',
          code: 'invalid_value',
          message: 'expected at most 2 (the number of funnel steps), got 3',
        },
      ],
    ],
    [
      'a funnel of one step',
      minimal({ signals: { f: { funnel: ['A'] } }, qualify: 'f' }),
      [{ path: 'signals.f.funnel', code: 'too_few_items', message: 'expected at least 2 items, got 1' }],
    ],
    [
      'returned_within without after',
      minimal({ signals: { r: { returned_within: '7d' } }, qualify: 'r' }),
      [{ path: 'signals.r.after', code: 'required', message: 'missing required key "after"' }],
    ],
    [
      'a condition with two kinds',
      minimal({ qualify: { all: ['first_call'], any: ['first_call'] } }),
      [
        {
          path: 'qualify',
          code: 'ambiguous',
          message: 'expected only one of all, any, not, signal, trait, got "all" and "any"',
        },
      ],
    ],
    [
      'an unknown route owner and fallback',
      minimal({ route: { owner: 'sales', fallback: { random: ['a'] } } }),
      [
        { path: 'route.owner', code: 'invalid_value', message: 'expected "crm", got "sales"' },
        {
          path: 'route.fallback',
          code: 'invalid_value',
          message:
            'expected a fallback like { round_robin: [owner-1, owner-2] } or { owner: owner-7 } (a mapping with one of round_robin, owner), got a mapping with "random"',
        },
      ],
    ],
    [
      'route rules: a bad employee count, a segment without a range, no owners, a territory without a name',
      minimal({
        route: {
          segments: [
            { name: 'enterprise', min_employees: 'many', owners: ['o1'] },
            { name: 'all', owners: ['o1'] },
            { name: 'odd', min_employees: 500, owners: [] },
          ],
          territories: [{ countries: ['GB'] }],
        },
      }),
      [
        {
          path: 'route.territories[0].territory',
          code: 'required',
          message: 'missing required key "territory"',
        },
        {
          path: 'route.segments[0].min_employees',
          code: 'invalid_type',
          message: 'expected a whole number, got "many"',
        },
        {
          path: 'route.segments[1]',
          code: 'required',
          message: 'segment "all" needs min_employees, max_employees or both (an employee range)',
        },
        {
          path: 'route.segments[2].owners',
          code: 'too_few_items',
          message: 'expected at least 1 item, got 0',
        },
      ],
    ],
    [
      'a segment range that ends before it starts',
      minimal({
        route: { segments: [{ name: 'big', min_employees: 500, max_employees: 100, owners: ['o1'] }] },
      }),
      [
        {
          path: 'route.segments[0].max_employees',
          code: 'invalid_value',
          message: 'expected a whole number of at least 500 (min_employees), got 100',
        },
      ],
    ],
    [
      'a country in two territories (either spelling)',
      minimal({
        route: {
          territories: [
            { territory: 'EMEA', countries: ['GB', 'DE'] },
            { territory: 'UK', countries: ['gb'] },
          ],
        },
      }),
      [
        {
          path: 'route.territories[1].countries',
          code: 'duplicate_country',
          message: 'country "GB" is already in territory EMEA; a country belongs to one territory',
        },
      ],
    ],
    [
      'a segment name used twice',
      minimal({
        route: {
          segments: [
            { name: 'mid', min_employees: 50, owners: ['o1'] },
            { name: 'mid', min_employees: 60, owners: ['o2'] },
          ],
        },
      }),
      [
        {
          path: 'route.segments[1].name',
          code: 'duplicate_name',
          message: 'duplicate segment name "mid"; already used at route.segments[0]',
        },
      ],
    ],
    [
      'a mapping with none of the required keys',
      { title: 'X' },
      [
        {
          path: 'title',
          code: 'unknown_key',
          message:
            'unknown key "title"; expected one of id, name, signals, qualify, $schema, description, fit, exclude, expire, route, next_step',
        },
        { path: 'id', code: 'required', message: 'missing required key "id"' },
        { path: 'name', code: 'required', message: 'missing required key "name"' },
        { path: 'signals', code: 'required', message: 'missing required key "signals"' },
        { path: 'qualify', code: 'required', message: 'missing required key "qualify"' },
      ],
    ],
  ];

  it.each(cases)('reports %s at its path with the expected message', (_name, input, expected) => {
    expect(issuesOf(input)).toStrictEqual(expected);
  });

  it('reports a document that is not a mapping', () => {
    expect(issuesOf(['a'])).toStrictEqual([
      {
        path: '',
        code: 'invalid_type',
        message: 'expected a definition (a mapping with id, name, signals and qualify), got a list',
      },
    ]);
  });
});

describe('parseDefinition: whole-definition checks', () => {
  it('reports an unknown signal in qualify and exclude, listing the known signals', () => {
    expect(
      issuesOf(
        minimal({
          signals: { first_call: { event: 'A' }, volume: { event: 'E', sum: 'properties.count', gte: 1 } },
          qualify: { all: ['first_call', { not: { signal: 'volum' } }] },
          exclude: ['team'],
        }),
      ),
    ).toStrictEqual([
      {
        path: 'qualify.all[1].not.signal',
        code: 'unknown_signal',
        message: 'unknown signal "volum" (did you mean "volume"?); known signals: first_call, volume',
      },
      {
        path: 'exclude[0]',
        code: 'unknown_signal',
        message: 'unknown signal "team"; known signals: first_call, volume',
      },
    ]);
  });

  it('reports an after that names an unknown signal', () => {
    expect(
      issuesOf(
        minimal({
          signals: { first_call: { event: 'A' }, r: { returned_within: '7d', after: 'frist_call' } },
        }),
      ),
    ).toStrictEqual([
      {
        path: 'signals.r.after',
        code: 'unknown_signal',
        message: 'unknown signal "frist_call" (did you mean "first_call"?); known signals: first_call, r',
      },
    ]);
  });

  it('reports a signal anchored at itself', () => {
    expect(issuesOf(minimal({ signals: { first_call: { event: 'A', after: 'first_call' } } }))).toStrictEqual(
      [
        {
          path: 'signals.first_call.after',
          code: 'after_cycle',
          message:
            '"after" anchors form a cycle: first_call -> first_call; a signal cannot wait for itself, directly or through others',
        },
      ],
    );
  });

  it('reports a cycle through several signals once, at its first declared member', () => {
    expect(
      issuesOf(
        minimal({
          signals: {
            first_call: { event: 'A' },
            b: { event: 'B', after: 'c' },
            c: { returned_within: '7d', after: 'd' },
            d: { event: 'D', within: '3d', after: 'b' },
            e: { event: 'E', after: 'b' },
          },
        }),
      ),
    ).toStrictEqual([
      {
        path: 'signals.b.after',
        code: 'after_cycle',
        message:
          '"after" anchors form a cycle: b -> c -> d -> b; a signal cannot wait for itself, directly or through others',
      },
    ]);
  });

  it('rejects signal references inside fit', () => {
    expect(
      issuesOf(minimal({ fit: { any: [{ trait: 'employees', gte: 10 }, { not: 'first_call' }] } })),
    ).toStrictEqual([
      {
        path: 'fit.any[1].not',
        code: 'fit_not_trait',
        message:
          'fit may contain only trait predicates (like { trait: employees, gte: 10 }) and all/any/not of them, got a reference to signal "first_call"; move it to qualify',
      },
    ]);
  });

  it('rejects next_step placeholders that name no signal', () => {
    expect(
      issuesOf(
        minimal({
          next_step: '{{first_call.value}} calls by {{account.name}} ({{trait.plan}}), {{volume.value}}',
        }),
      ),
    ).toStrictEqual([
      {
        path: 'next_step',
        code: 'unknown_placeholder',
        message:
          'unknown placeholder "{{volume.value}}": use {{<signal>.value}}, {{account.<field>}} or {{trait.<name>}}; known signals: first_call',
      },
    ]);
  });

  it('rejects signal names reserved for placeholders', () => {
    expect(
      issuesOf(minimal({ signals: { first_call: { event: 'A' }, account: { event: 'B' } } })),
    ).toStrictEqual([
      {
        path: 'signals.account',
        code: 'reserved_name',
        message:
          '"account" is reserved for next_step placeholders ({{account.…}}); choose another signal name',
      },
    ]);
  });

  it('reports every issue at once: structural and whole-definition, across parts', () => {
    const issues = issuesOf({
      id: 'x',
      nmae: 'X',
      signals: {
        first_call: { event: 'A', window: '30 days' },
        loop: { event: 'B', after: 'loop' },
      },
      qualify: { all: ['first_call', 'volume', { trait: 'employees', gte: 'many' }] },
      fit: ['first_call'],
      expire: 30,
    });
    expect(issues.map((issue) => `${issue.path}: ${issue.code}`)).toStrictEqual([
      'nmae: unknown_key',
      'name: required',
      'signals.first_call.window: invalid_duration',
      'qualify.all[2].gte: invalid_value',
      'expire: invalid_duration',
      'qualify.all[1]: unknown_signal',
      'fit[0]: fit_not_trait',
      'signals.loop.after: after_cycle',
    ]);
  });
});

describe('parseDefinitionSet', () => {
  it('rejects an id defined in two files, naming the first file', () => {
    expect(
      parseDefinitionSet([
        { source: 'definitions/a.yaml', value: minimal({ id: 'same' }) },
        { source: 'definitions/b.yaml', value: minimal({ id: 'other' }) },
        { source: 'definitions/c.yaml', value: minimal({ id: 'same' }) },
      ]),
    ).toStrictEqual({
      ok: false,
      issues: [
        {
          source: 'definitions/c.yaml',
          index: 2,
          issue: {
            path: 'id',
            code: 'duplicate_id',
            message: 'duplicate definition id "same"; already defined in definitions/a.yaml',
          },
        },
      ],
    });
  });

  it('loads nothing when one definition is invalid, and says which input each issue belongs to', () => {
    const result = parseDefinitionSet([
      { source: 'a.yaml', value: minimal({ id: 'a' }) },
      { source: 'b.yaml', value: minimal({ id: 'b', expire: 'soon' }) },
    ]);
    expect(result).toStrictEqual({
      ok: false,
      issues: [
        {
          source: 'b.yaml',
          index: 1,
          issue: {
            path: 'expire',
            code: 'invalid_duration',
            message: 'expected a duration like "30d", got "soon"',
          },
        },
      ],
    });
  });

  it('returns every definition with its source when all are valid', () => {
    const result = parseDefinitionSet([
      { source: 'a.yaml', value: minimal({ id: 'a' }) },
      { source: 'b.yaml', value: minimal({ id: 'b' }) },
    ]);
    expect(result.ok && result.definitions.map((entry) => [entry.source, entry.definition.id])).toStrictEqual(
      [
        ['a.yaml', 'a'],
        ['b.yaml', 'b'],
      ],
    );
  });
});
