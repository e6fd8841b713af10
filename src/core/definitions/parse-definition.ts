/**
 * The PQL definition language: the written (YAML/JSON) surface, checked by one schema that also emits the
 * JSON Schema, normalized into the `Definition` AST, then checked as a whole (references, cycles, fit).
 */
import type { Issue, Parsed } from '../issues.js';
import { childPath, createIssue } from '../issues.js';
import { definitionContentHash } from './content-hash.js';
import type {
  Comparison,
  ComparisonOp,
  Condition,
  Definition,
  EventSelector,
  FunnelWindow,
  PredicateOp,
  PropertyPredicate,
  RouteSpec,
  SignalSpec,
  SignalWindow,
} from './definition.js';
import { segmentsSchema, territoriesSchema } from '../routing/routing-rules-schema.js';
import { DURATION_PATTERN, parseDuration } from './duration.js';
import type { Schema } from './schema.js';
import {
  array,
  boolean,
  byType,
  closest,
  duration,
  enumOf,
  integer,
  keyed,
  map,
  named,
  number,
  object,
  record,
  string,
} from './schema.js';

/** The comparison operators of a signal threshold, in the order messages list them. */
export const COMPARISON_OPS = ['gte', 'gt', 'lte', 'lt', 'eq'] as const satisfies readonly ComparisonOp[];

/** The operators of a trait or property predicate, in the order messages list them. */
export const PREDICATE_OPS = [
  'eq',
  'neq',
  'in',
  'not_in',
  'gt',
  'gte',
  'lt',
  'lte',
  'exists',
  'matches',
] as const satisfies readonly PredicateOp[];

/** Placeholder heads of `next_step` that are not signal names. */
const TEMPLATE_SCOPES = ['account', 'trait'] as const;

const SELECTOR_KEYS = ['event', 'page', 'screen'] as const;
const WINDOW_EXCLUSIVE = [
  ['window', 'within'],
  ['window', 'after'],
] as const;

// ---------------------------------------------------------------------------------------------------------
// Leaves

const idSchema = string({
  pattern: /^[a-z0-9][a-z0-9_-]*$/,
  expected: 'an id of lowercase letters, digits, "-" and "_" (like "devtool-activated")',
  description: 'Stable identifier of the definition; a new version keeps its id.',
});

const signalNameSchema = string({
  pattern: /^[a-z_][a-z0-9_]*$/,
  expected: 'a signal name of lowercase letters, digits and "_" (like "first_call")',
});

const signalRefSchema = string({
  minLength: 1,
  expected: 'a signal name',
  description: 'The name of a signal.',
});

const nonEmpty = string({ minLength: 1, expected: 'a non-empty string' });

const traitNameSchema = string({
  minLength: 1,
  expected: 'a trait name',
  description: 'An account trait, e.g. "employees"; may be source-qualified ("crm.employees").',
});

const propertyPathSchema = string({
  pattern: /^properties\.[^.]+(\.[^.]+)*$/,
  expected: 'a property path starting with "properties." (like "properties.plan")',
});

const scalarSchema = byType<string | number | boolean>(
  { string: string(), number: number(), boolean: boolean() },
  { expected: 'a string, number or boolean' },
);

const orderedSchema = byType<string | number>(
  {
    number: number(),
    string: string({
      pattern: /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/,
      expected: 'a number or an ISO date like "2024-01-31"',
    }),
  },
  { expected: 'a number or an ISO date like "2024-01-31"' },
);

const regexSchema = map(
  string({ description: 'A regular expression (JavaScript syntax).' }),
  (source, path, issues) => {
    try {
      new RegExp(source);
      return source;
    } catch (error) {
      const reason =
        error instanceof Error ? (error.message.split(': ').pop() ?? error.message) : String(error);
      issues.push(
        createIssue(
          path,
          'invalid_regex',
          `expected a valid regular expression, got ${JSON.stringify(source)} (${reason})`,
        ),
      );
      return undefined;
    }
  },
);

const predicateFields = {
  eq: scalarSchema,
  neq: scalarSchema,
  in: array(scalarSchema, { minItems: 1 }),
  not_in: array(scalarSchema, { minItems: 1 }),
  gt: orderedSchema,
  gte: orderedSchema,
  lt: orderedSchema,
  lte: orderedSchema,
  exists: boolean(),
  matches: regexSchema,
};

function pickPredicate(value: { readonly [K in PredicateOp]?: unknown }): {
  op: PredicateOp;
  value: unknown;
} {
  const op = PREDICATE_OPS.find((candidate) => value[candidate] !== undefined) ?? 'exists';
  return { op, value: value[op] };
}

const comparisonFields = {
  gte: number(),
  gt: number(),
  lte: number(),
  lt: number(),
  eq: number(),
};

function pickComparison(value: { readonly [K in ComparisonOp]?: number }): Comparison {
  const op = COMPARISON_OPS.find((candidate) => value[candidate] !== undefined) ?? 'gte';
  return { op, value: value[op] ?? 0 };
}

/** `{ gte: 3 }` (exactly one operator), or a bare number meaning "at least". */
const thresholdSchema = byType<Comparison>(
  {
    number: map(number({ minimum: 0 }), (value) => ({ op: 'gte', value })),
    object: map(object({}, comparisonFields, { exactlyOne: [COMPARISON_OPS] }), pickComparison),
  },
  { expected: 'a threshold like { gte: 3 } or a number' },
);

/** `within: 14d` or `within: 14d of signup`. */
const withinSchema: Schema<{ readonly ms: number; readonly ofSignup: boolean }> = {
  expected: 'a duration like "14d" or "14d of signup"',
  validate(input, path, issues) {
    const match = typeof input === 'string' ? /^(.*?)(?:\s+of\s+(.*))?$/.exec(input) : null;
    const parsed = match === null ? undefined : parseDuration(match[1]);
    if (
      match === null ||
      parsed === undefined ||
      !parsed.ok ||
      (match[2] !== undefined && match[2] !== 'signup')
    ) {
      issues.push(
        createIssue(
          path,
          'invalid_duration',
          `expected a duration like "14d" or "14d of signup", got ${describe(input)}`,
        ),
      );
      return undefined;
    }
    return { ms: parsed.value, ofSignup: match[2] !== undefined };
  },
  toJsonSchema() {
    return {
      description:
        'A duration, anchored at sign-up ("14d of signup") or, with "after", at that signal ("7d").',
      type: 'string',
      pattern: `${DURATION_PATTERN.source.slice(0, -1)}( of signup)?$`,
    };
  },
};

function describe(input: unknown): string {
  return typeof input === 'string' ? JSON.stringify(input) : Array.isArray(input) ? 'a list' : String(input);
}

// ---------------------------------------------------------------------------------------------------------
// Event selectors

const namesSchema = byType<readonly string[]>(
  { string: map(nonEmpty, (name) => [name]), array: array(nonEmpty, { minItems: 1 }) },
  { expected: 'a name or a list of names' },
);

const propertyPredicateSchema: Schema<PropertyPredicate> = map(
  object({ property: propertyPathSchema }, predicateFields, {
    exactlyOne: [PREDICATE_OPS],
    expected: 'a property predicate like { property: properties.plan, eq: pro }',
  }),
  (value) => ({ path: value.property.split('.').slice(1), ...pickPredicate(value) }),
);

const selectorFields = {
  event: namesSchema,
  page: namesSchema,
  screen: namesSchema,
  where: array(propertyPredicateSchema, { description: 'Property predicates; all must hold.' }),
};

interface SelectorSurface {
  readonly event?: readonly string[];
  readonly page?: readonly string[];
  readonly screen?: readonly string[];
  readonly where?: readonly PropertyPredicate[];
}

/** The selector a signal's `event`/`page`/`screen`/`where` describe; any activity event when none is given. */
function toSelector(value: SelectorSurface): EventSelector {
  const where = value.where ?? [];
  const given = SELECTOR_KEYS.find((key) => value[key] !== undefined);
  if (given === undefined) return { types: ['track', 'page', 'screen'], names: undefined, where };
  const names = value[given] ?? [];
  const type = given === 'event' ? 'track' : given;
  return { types: [type], names: names.includes('*') ? undefined : names, where };
}

function selectorLabel(value: SelectorSurface): string {
  const given = SELECTOR_KEYS.find((key) => value[key] !== undefined);
  return given === undefined ? 'any event' : (value[given] ?? []).join(' or ');
}

// ---------------------------------------------------------------------------------------------------------
// Windows

const windowFields = {
  window: duration({ description: 'Rolling window: the duration ending at the evaluation time.' }),
  within: withinSchema,
  after: signalRefSchema,
};

interface WindowSurface {
  readonly window?: number;
  readonly within?: { readonly ms: number; readonly ofSignup: boolean };
  readonly after?: string;
}

function toWindow(value: WindowSurface, path: string, issues: Issue[]): SignalWindow | undefined {
  if (value.window !== undefined) return { kind: 'rolling', ms: value.window };
  const { within, after } = value;
  if (within !== undefined && within.ofSignup) {
    if (after === undefined) return { kind: 'signup', ms: within.ms };
    issues.push(
      createIssue(
        childPath(path, 'within'),
        'invalid_window',
        '"within: ... of signup" cannot be combined with "after"; anchor the window at sign-up or at the signal, not both',
      ),
    );
    return undefined;
  }
  if (within !== undefined) {
    if (after !== undefined) return { kind: 'after', signal: after, ms: within.ms };
    issues.push(
      createIssue(
        childPath(path, 'within'),
        'invalid_window',
        'a plain "within" needs an anchor: write "within: 14d of signup" (from sign-up) or "within: 7d" with "after: <signal>" (from when that signal first held); for a rolling window write "window: 30d"',
      ),
    );
    return undefined;
  }
  if (after !== undefined) return { kind: 'after', signal: after, ms: undefined };
  return { kind: 'all' };
}

// ---------------------------------------------------------------------------------------------------------
// Signals

const countSignal: Schema<SignalSpec> = map(
  object(
    {},
    { ...selectorFields, count: thresholdSchema, ...windowFields },
    { exactlyOne: [SELECTOR_KEYS], exclusive: WINDOW_EXCLUSIVE, description: 'Counts matching events.' },
  ),
  (value, path, issues) => {
    const window = toWindow(value, path, issues);
    if (window === undefined) return undefined;
    const compare = value.count ?? { op: 'gte', value: 1 };
    return { kind: 'count', selector: toSelector(value), window, compare };
  },
);

function propertyMeasure(kind: 'sum' | 'distinct', description: string): Schema<SignalSpec> {
  return map(
    object(
      { [kind]: propertyPathSchema },
      { ...selectorFields, ...windowFields, ...comparisonFields },
      {
        exactlyOne: [SELECTOR_KEYS, COMPARISON_OPS],
        exclusive: WINDOW_EXCLUSIVE,
        description,
      },
    ),
    (value, path, issues) => {
      const window = toWindow(value, path, issues);
      if (window === undefined) return undefined;
      const written = (value as Readonly<Record<string, unknown>>)[kind];
      const property = typeof written === 'string' ? written.split('.').slice(1) : [];
      return { kind, selector: toSelector(value), property, window, compare: pickComparison(value) };
    },
  );
}

const distinctUsersSignal: Schema<SignalSpec> = map(
  object(
    { distinct_users: thresholdSchema },
    { ...selectorFields, ...windowFields },
    {
      exclusive: [...WINDOW_EXCLUSIVE, SELECTOR_KEYS],
      description:
        'Counts the users with at least one matching (by default: any track, page or screen) event.',
    },
  ),
  (value, path, issues) => {
    const window = toWindow(value, path, issues);
    if (window === undefined) return undefined;
    return { kind: 'distinct_users', selector: toSelector(value), window, compare: value.distinct_users };
  },
);

const returnedSignal: Schema<SignalSpec> = map(
  object(
    { returned_within: duration(), after: signalRefSchema },
    {},
    {
      description: 'Activity on a later UTC day than "after" first held, at most "returned_within" after it.',
    },
  ),
  (value) => ({ kind: 'returned', withinMs: value.returned_within, after: value.after }),
);

const funnelStepSchema = byType<{ readonly selector: EventSelector; readonly label: string }>(
  {
    string: map(nonEmpty, (name) => ({
      selector: { types: ['track'], names: [name], where: [] },
      label: name,
    })),
    object: map(object({}, selectorFields, { exactlyOne: [SELECTOR_KEYS] }), (value) => ({
      selector: toSelector(value),
      label: selectorLabel(value),
    })),
  },
  { expected: 'a funnel step: an event name or a mapping like { event: ..., where: [...] }' },
);

const funnelSignal: Schema<SignalSpec> = map(
  object(
    { funnel: array(funnelStepSchema, { minItems: 2 }) },
    { reached: integer({ minimum: 1 }), within: withinSchema },
    {
      description: 'Steps in strict time order by any members of the account.',
    },
  ),
  (value, path, issues) => {
    const steps = value.funnel;
    const reached = value.reached ?? steps.length;
    if (reached > steps.length) {
      issues.push(
        createIssue(
          childPath(path, 'reached'),
          'invalid_value',
          `expected at most ${steps.length} (the number of funnel steps), got ${reached}`,
        ),
      );
      return undefined;
    }
    const window: FunnelWindow =
      value.within === undefined
        ? { kind: 'all' }
        : { kind: value.within.ofSignup ? 'signup' : 'first_step', ms: value.within.ms };
    return {
      kind: 'funnel',
      steps: steps.map((step) => step.selector),
      stepLabels: steps.map((step) => step.label),
      reached,
      window,
    };
  },
);

const signalSchema: Schema<SignalSpec> = named('signal', () =>
  keyed<SignalSpec>(
    [
      { key: 'returned_within', schema: returnedSignal },
      { key: 'funnel', schema: funnelSignal },
      { key: 'distinct_users', schema: distinctUsersSignal },
      { key: 'sum', schema: propertyMeasure('sum', 'Sums a numeric property of matching events.') },
      {
        key: 'distinct',
        schema: propertyMeasure('distinct', 'Counts the distinct values of a property of matching events.'),
      },
      { key: 'count', schema: countSignal },
    ],
    {
      expected: 'a signal',
      fallback: { when: SELECTOR_KEYS, schema: countSignal },
      description: 'A named behavioural condition: exactly one measure.',
    },
  ),
);

// ---------------------------------------------------------------------------------------------------------
// Conditions

const traitPredicateSchema: Schema<Condition> = map(
  object({ trait: traitNameSchema }, predicateFields, {
    exactlyOne: [PREDICATE_OPS],
    description: 'A predicate on an account trait.',
  }),
  (value) => ({ kind: 'trait', trait: value.trait, ...pickPredicate(value) }),
);

const conditionSchema: Schema<Condition> = named('condition', () =>
  byType<Condition>(
    {
      string: map(signalRefSchema, (name) => ({ kind: 'signal', name })),
      array: map(array(conditionSchema, { minItems: 1 }), (of) => ({ kind: 'all', of })),
      object: keyed<Condition>(
        [
          {
            key: 'all',
            schema: map(object({ all: array(conditionSchema, { minItems: 1 }) }), (v) => ({
              kind: 'all',
              of: v.all,
            })),
          },
          {
            key: 'any',
            schema: map(object({ any: array(conditionSchema, { minItems: 1 }) }), (v) => ({
              kind: 'any',
              of: v.any,
            })),
          },
          { key: 'not', schema: map(object({ not: conditionSchema }), (v) => ({ kind: 'not', of: v.not })) },
          {
            key: 'signal',
            schema: map(object({ signal: signalRefSchema }), (v) => ({ kind: 'signal', name: v.signal })),
          },
          { key: 'trait', schema: traitPredicateSchema },
        ],
        { expected: 'a condition' },
      ),
    },
    {
      expected:
        'a condition (a signal name, a list meaning all, or a mapping with all, any, not, signal or trait)',
      description: 'A signal name, a list (all of), or { all | any | not | signal | trait }.',
    },
  ),
);

// ---------------------------------------------------------------------------------------------------------
// Routing and the whole definition

const routeSchema: Schema<RouteSpec> = map(
  object(
    {},
    {
      owner: enumOf(['crm'], { description: '"crm": the account\'s CRM owner first.' }),
      territories: territoriesSchema,
      segments: segmentsSchema,
      fallback: keyed<NonNullable<RouteSpec['fallback']>>(
        [
          {
            key: 'round_robin',
            schema: map(object({ round_robin: array(nonEmpty, { minItems: 1 }) }), (v) => ({
              roundRobin: v.round_robin,
            })),
          },
          { key: 'owner', schema: map(object({ owner: nonEmpty }), (v) => ({ owner: v.owner })) },
        ],
        { expected: 'a fallback like { round_robin: [owner-1, owner-2] } or { owner: owner-7 }' },
      ),
      channel: string({ minLength: 1, expected: 'a channel like "slack:#pql"' }),
    },
    {
      description:
        'Where a new PQL goes: the CRM owner, else segments, then territories (these replace the global ones of pql.yaml), else the fallback.',
    },
  ),
  (value) => ({
    owner: value.owner,
    territories: value.territories,
    segments: value.segments,
    fallback: value.fallback,
    channel: value.channel,
  }),
);

/** The schema of one written definition (YAML or JSON), normalizing into the AST without its content hash. */
export const definitionSchema: Schema<Omit<Definition, 'contentHash'>> = map(
  object(
    {
      id: idSchema,
      name: string({ minLength: 1, expected: 'a non-empty name', description: 'Human-readable name.' }),
      signals: record(signalNameSchema, signalSchema, {
        minProperties: 1,
        expected: 'a mapping of signal names to signals',
      }),
      qualify: conditionSchema,
    },
    {
      $schema: string({ description: 'The JSON Schema this file follows (ignored).' }),
      description: string(),
      fit: conditionSchema,
      exclude: conditionSchema,
      expire: duration({ description: 'After this long from qualifiedAt the account may qualify again.' }),
      route: routeSchema,
      next_step: string({
        description: 'Template with {{signal.value}}, {{account.name}}, {{trait.employees}}.',
      }),
    },
    { expected: 'a definition (a mapping with id, name, signals and qualify)' },
  ),
  (value) => ({
    id: value.id,
    name: value.name,
    description: value.description,
    fit: value.fit,
    signals: value.signals.map(([name, spec]) => ({ name, spec })),
    qualify: value.qualify,
    exclude: value.exclude,
    expireMs: value.expire,
    route: value.route,
    nextStep: value.next_step,
  }),
);

// ---------------------------------------------------------------------------------------------------------
// Whole-definition checks, on the written input so they run even where a part failed the schema

function isRecord(input: unknown): input is Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input);
}

function unknownSignalIssue(path: string, name: string, known: readonly string[]): Issue {
  const suggestion = closest(name, known);
  const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  const list = known.length === 0 ? 'none' : known.join(', ');
  return createIssue(path, 'unknown_signal', `unknown signal "${name}"${hint}; known signals: ${list}`);
}

/** Visits the signal references of a written condition (strings and `{ signal }`), however malformed the rest. */
function forEachSignalRef(input: unknown, path: string, visit: (name: string, path: string) => void): void {
  if (typeof input === 'string') visit(input, path);
  else if (Array.isArray(input))
    input.forEach((item, index) => forEachSignalRef(item, childPath(path, index), visit));
  else if (isRecord(input)) {
    if (typeof input['signal'] === 'string') visit(input['signal'], childPath(path, 'signal'));
    for (const key of ['all', 'any'] as const) {
      const list = input[key];
      if (Array.isArray(list))
        list.forEach((item, index) => forEachSignalRef(item, childPath(childPath(path, key), index), visit));
    }
    if (Object.hasOwn(input, 'not')) forEachSignalRef(input['not'], childPath(path, 'not'), visit);
  }
}

function checkWhole(input: Record<string, unknown>, issues: Issue[]): void {
  const signals = input['signals'];
  if (!isRecord(signals)) return;
  const known = Object.keys(signals);

  for (const reserved of TEMPLATE_SCOPES) {
    if (known.includes(reserved)) {
      issues.push(
        createIssue(
          childPath('signals', reserved),
          'reserved_name',
          `"${reserved}" is reserved for next_step placeholders ({{${reserved}.…}}); choose another signal name`,
        ),
      );
    }
  }

  for (const key of ['qualify', 'exclude'] as const) {
    forEachSignalRef(input[key], key, (name, path) => {
      if (!known.includes(name)) issues.push(unknownSignalIssue(path, name, known));
    });
  }

  forEachSignalRef(input['fit'], 'fit', (name, path) => {
    issues.push(
      createIssue(
        path,
        'fit_not_trait',
        `fit may contain only trait predicates (like { trait: employees, gte: 10 }) and all/any/not of them, got a reference to signal "${name}"; move it to qualify`,
      ),
    );
  });

  const after = new Map<string, string>();
  for (const name of known) {
    const signal = signals[name];
    if (!isRecord(signal) || typeof signal['after'] !== 'string') continue;
    const target = signal['after'];
    if (known.includes(target)) after.set(name, target);
    else issues.push(unknownSignalIssue(childPath(childPath('signals', name), 'after'), target, known));
  }
  checkAfterCycles(known, after, issues);

  const nextStep = input['next_step'];
  if (typeof nextStep === 'string') {
    for (const match of nextStep.matchAll(/\{\{\s*([^}]*?)\s*\}\}/g)) {
      const head = (match[1] ?? '').split('.')[0] ?? '';
      if ((TEMPLATE_SCOPES as readonly string[]).includes(head) || known.includes(head)) continue;
      issues.push(
        createIssue(
          'next_step',
          'unknown_placeholder',
          `unknown placeholder "${match[0]}": use {{<signal>.value}}, {{account.<field>}} or {{trait.<name>}}; known signals: ${known.join(', ')}`,
        ),
      );
    }
  }
}

/** Reports each cycle of `after:` anchors once, at the member declared first (a signal cannot wait for itself). */
function checkAfterCycles(
  declared: readonly string[],
  after: ReadonlyMap<string, string>,
  issues: Issue[],
): void {
  const reported = new Set<string>();
  for (const start of declared) {
    const chain: string[] = [];
    let current: string | undefined = start;
    while (current !== undefined && !chain.includes(current)) {
      chain.push(current);
      current = after.get(current);
    }
    if (current === undefined || reported.has(current)) continue;
    const cycle = chain.slice(chain.indexOf(current));
    cycle.forEach((member) => reported.add(member));
    const first = declared.find((name) => cycle.includes(name)) ?? current;
    const rotated = [...cycle.slice(cycle.indexOf(first)), ...cycle.slice(0, cycle.indexOf(first)), first];
    issues.push(
      createIssue(
        childPath(childPath('signals', first), 'after'),
        'after_cycle',
        `"after" anchors form a cycle: ${rotated.join(' -> ')}; a signal cannot wait for itself, directly or through others`,
      ),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Entry points

/** Parses one written definition (the value of a YAML or JSON document) into the normalized AST, or every issue found. */
export function parseDefinition(input: unknown): Parsed<Definition> {
  const issues: Issue[] = [];
  const value = definitionSchema.validate(input, '', issues);
  if (isRecord(input)) checkWhole(input, issues);
  if (value === undefined || issues.length > 0) return { ok: false, issues };
  return { ok: true, value: { ...value, contentHash: definitionContentHash(value) } };
}

/** An issue of one input of a definition set, with where that input came from. */
export interface DefinitionSetIssue {
  /** Where the input came from, e.g. a file path. */
  readonly source: string;
  /** The position of the input in the list given to `parseDefinitionSet`. */
  readonly index: number;
  readonly issue: Issue;
}

/** The result of parsing several definitions: all of them, or every issue of every input (none half-loads). */
export type ParsedDefinitionSet =
  | {
      readonly ok: true;
      readonly definitions: readonly { readonly source: string; readonly definition: Definition }[];
    }
  | { readonly ok: false; readonly issues: readonly DefinitionSetIssue[] };

/** Parses definitions that live together (a folder), also rejecting an id defined more than once. */
export function parseDefinitionSet(
  inputs: readonly { readonly source: string; readonly value: unknown }[],
): ParsedDefinitionSet {
  const issues: DefinitionSetIssue[] = [];
  const definitions: { source: string; definition: Definition }[] = [];
  const firstSource = new Map<string, string>();
  inputs.forEach((input, index) => {
    const parsed = parseDefinition(input.value);
    if (parsed.ok) definitions.push({ source: input.source, definition: parsed.value });
    else for (const issue of parsed.issues) issues.push({ source: input.source, index, issue });
    const id = isRecord(input.value) ? input.value['id'] : undefined;
    if (typeof id !== 'string') return;
    const first = firstSource.get(id);
    if (first === undefined) firstSource.set(id, input.source);
    else {
      const message = `duplicate definition id "${id}"; already defined in ${first}`;
      issues.push({ source: input.source, index, issue: createIssue('id', 'duplicate_id', message) });
    }
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, definitions };
}
