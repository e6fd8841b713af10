/**
 * A tiny schema combinator: one description of a shape both validates unknown input (collecting every
 * issue with its field path) and emits the JSON Schema (draft 2020-12) of that shape. Hand-written because
 * the core imports no npm packages. Checks that JSON Schema cannot say well (references between fields,
 * conversions) live in `map` steps, which the JSON Schema passes through.
 */
import type { Issue } from '../issues.js';
import { childPath, createIssue } from '../issues.js';
import { DURATION_PATTERN, parseDuration } from './duration.js';

/** A JSON Schema node (an object, or `true`/`false`). */
export type JsonSchema = { readonly [keyword: string]: unknown } | boolean;

/** Named sub-schemas collected while emitting, written under `$defs`. */
export type JsonSchemaDefs = Map<string, JsonSchema>;

/** A shape that validates input into `T` and describes itself as JSON Schema. */
export interface Schema<T> {
  /** What a valid value looks like, for messages: `expected ${expected}, got ...`. */
  readonly expected: string;
  /** Validates `input` found at `path`, pushing every issue; returns undefined exactly when it pushed one. */
  validate(input: unknown, path: string, issues: Issue[]): T | undefined;
  /** Emits JSON Schema for this shape, registering named sub-schemas in `defs`. */
  toJsonSchema(defs: JsonSchemaDefs): JsonSchema;
}

/** The type a schema validates into. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/** Describes an input value for an error message: strings quoted, lists and mappings by kind. */
export function describeValue(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input);
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return input.length === 0 ? 'an empty list' : 'a list';
  if (typeof input === 'object') return 'a mapping';
  return String(input);
}

function typeMismatch(path: string, expected: string, input: unknown): Issue {
  return createIssue(path, 'invalid_type', `expected ${expected}, got ${describeValue(input)}`);
}

function isRecord(input: unknown): input is Record<string, unknown> {
  return typeof input === 'object' && input !== null && !Array.isArray(input);
}

function withDescription(json: JsonSchema, description: string | undefined): JsonSchema {
  if (description === undefined || typeof json === 'boolean') return json;
  return { description, ...json };
}

/** Options shared by scalar schemas. */
export interface ScalarOptions {
  /** Shown in editors through the JSON Schema `description`. */
  readonly description?: string;
}

/** A string, optionally matching `pattern` (then `expected` names the form, e.g. `an id like "devtool-activated"`). */
export function string(
  options: ScalarOptions & {
    readonly pattern?: RegExp;
    readonly expected?: string;
    readonly minLength?: number;
  } = {},
): Schema<string> {
  const expected = options.expected ?? 'a string';
  const minLength = options.minLength ?? 0;
  return {
    expected,
    validate(input, path, issues) {
      if (typeof input !== 'string') {
        issues.push(typeMismatch(path, options.pattern === undefined ? 'a string' : expected, input));
        return undefined;
      }
      if (input.length < minLength) {
        issues.push(createIssue(path, 'invalid_value', `expected ${expected}, got an empty string`));
        return undefined;
      }
      if (options.pattern !== undefined && !options.pattern.test(input)) {
        issues.push(createIssue(path, 'invalid_value', `expected ${expected}, got ${describeValue(input)}`));
        return undefined;
      }
      return input;
    },
    toJsonSchema() {
      return withDescription(
        {
          type: 'string',
          ...(minLength > 0 ? { minLength } : {}),
          ...(options.pattern === undefined ? {} : { pattern: options.pattern.source }),
        },
        options.description,
      );
    },
  };
}

/** Options of a numeric schema: a lower bound, and how messages name the value (default "a number"). */
export interface NumericOptions extends ScalarOptions {
  readonly minimum?: number;
  readonly expected?: string;
}

/** A finite number. */
export function number(options: NumericOptions = {}): Schema<number> {
  return numeric(options.expected ?? 'a number', false, options);
}

/** An integer, optionally at least `minimum`. */
export function integer(options: NumericOptions = {}): Schema<number> {
  return numeric(options.expected ?? 'an integer', true, options);
}

function numeric(expected: string, whole: boolean, options: NumericOptions): Schema<number> {
  const { minimum } = options;
  return {
    expected,
    validate(input, path, issues) {
      if (typeof input !== 'number' || !Number.isFinite(input) || (whole && !Number.isInteger(input))) {
        issues.push(typeMismatch(path, expected, input));
        return undefined;
      }
      if (minimum !== undefined && input < minimum) {
        issues.push(
          createIssue(path, 'invalid_value', `expected ${expected} of at least ${minimum}, got ${input}`),
        );
        return undefined;
      }
      return input;
    },
    toJsonSchema() {
      return withDescription(
        { type: whole ? 'integer' : 'number', ...(minimum === undefined ? {} : { minimum }) },
        options.description,
      );
    },
  };
}

/** `true` or `false`. */
export function boolean(options: ScalarOptions = {}): Schema<boolean> {
  return {
    expected: 'true or false',
    validate(input, path, issues) {
      if (typeof input !== 'boolean') {
        issues.push(typeMismatch(path, 'true or false', input));
        return undefined;
      }
      return input;
    },
    toJsonSchema() {
      return withDescription({ type: 'boolean' }, options.description);
    },
  };
}

/** One of a fixed list of strings. */
export function enumOf<const V extends string>(values: readonly V[], options: ScalarOptions = {}): Schema<V> {
  const expected =
    values.length === 1
      ? JSON.stringify(values[0])
      : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    expected,
    validate(input, path, issues) {
      if (typeof input === 'string' && (values as readonly string[]).includes(input)) return input as V;
      issues.push(
        createIssue(
          path,
          typeof input === 'string' ? 'invalid_value' : 'invalid_type',
          `expected ${expected}, got ${describeValue(input)}`,
        ),
      );
      return undefined;
    },
    toJsonSchema() {
      return withDescription(
        values.length === 1 ? { const: values[0] } : { enum: [...values] },
        options.description,
      );
    },
  };
}

/** A duration like `30d` (units ms, s, m, h, d, w), validated into milliseconds. */
export function duration(options: ScalarOptions = {}): Schema<number> {
  return {
    expected: 'a duration like "30d"',
    validate(input, path, issues) {
      const parsed = parseDuration(input);
      if (parsed.ok) return parsed.value;
      for (const issue of parsed.issues) issues.push(createIssue(path, issue.code, issue.message));
      return undefined;
    },
    toJsonSchema() {
      return withDescription({ type: 'string', pattern: DURATION_PATTERN.source }, options.description);
    },
  };
}

/** A list of items, with at least `minItems` of them. */
export function array<T>(
  item: Schema<T>,
  options: ScalarOptions & { readonly minItems?: number; readonly expected?: string } = {},
): Schema<readonly T[]> {
  const minItems = options.minItems ?? 0;
  const expected = options.expected ?? 'a list';
  return {
    expected,
    validate(input, path, issues) {
      if (!Array.isArray(input)) {
        issues.push(typeMismatch(path, expected, input));
        return undefined;
      }
      let valid = true;
      if (input.length < minItems) {
        const items = minItems === 1 ? 'item' : 'items';
        issues.push(
          createIssue(path, 'too_few_items', `expected at least ${minItems} ${items}, got ${input.length}`),
        );
        valid = false;
      }
      const values: T[] = [];
      input.forEach((element, index) => {
        const value = item.validate(element, childPath(path, index), issues);
        if (value === undefined) valid = false;
        else values.push(value);
      });
      return valid ? values : undefined;
    },
    toJsonSchema(defs) {
      return withDescription(
        { type: 'array', items: item.toJsonSchema(defs), ...(minItems > 0 ? { minItems } : {}) },
        options.description,
      );
    },
  };
}

/** Dispatches on the JSON type of the input (string, number, boolean, list, mapping): a union without ambiguity. */
export function byType<T>(
  branches: {
    readonly string?: Schema<T>;
    readonly number?: Schema<T>;
    readonly boolean?: Schema<T>;
    readonly array?: Schema<T>;
    readonly object?: Schema<T>;
  },
  options: ScalarOptions & { readonly expected?: string } = {},
): Schema<T> {
  const present = (['string', 'number', 'boolean', 'array', 'object'] as const).flatMap((kind) => {
    const schema = branches[kind];
    return schema === undefined ? [] : [{ kind, schema }];
  });
  const expected = options.expected ?? present.map((branch) => branch.schema.expected).join(' or ');
  return {
    expected,
    validate(input, path, issues) {
      const kind = Array.isArray(input)
        ? 'array'
        : isRecord(input)
          ? 'object'
          : typeof input === 'string'
            ? 'string'
            : typeof input === 'number'
              ? 'number'
              : typeof input === 'boolean'
                ? 'boolean'
                : undefined;
      const branch = kind === undefined ? undefined : branches[kind];
      if (branch === undefined) {
        issues.push(typeMismatch(path, expected, input));
        return undefined;
      }
      return branch.validate(input, path, issues);
    },
    toJsonSchema(defs) {
      const alternatives = present.map((branch) => branch.schema.toJsonSchema(defs));
      return withDescription(
        alternatives.length === 1 ? (alternatives[0] ?? false) : { anyOf: alternatives },
        options.description,
      );
    },
  };
}

/** The fields of an object schema: each key's schema. */
export type Fields = { readonly [key: string]: Schema<unknown> };

/** The validated value of an object schema: required keys always present, optional keys possibly undefined. */
export type ObjectValue<R extends Fields, O extends Fields> = { readonly [K in keyof R]: Infer<R[K]> } & {
  readonly [K in keyof O]?: Infer<O[K]>;
};

/** Options of an object schema. */
export interface ObjectOptions extends ScalarOptions {
  /** Shown as `expected ...` when the input is not a mapping; default `a mapping`. */
  readonly expected?: string;
  /** Groups of keys of which exactly one must be present (e.g. the comparison operators). */
  readonly exactlyOne?: readonly (readonly string[])[];
  /** Groups of keys that must not appear together (e.g. `window` with `within`). */
  readonly exclusive?: readonly (readonly string[])[];
}

/** A mapping with known required and optional keys; unknown keys are reported with a "did you mean" when one is close. */
export function object<R extends Fields, O extends Fields = Record<never, Schema<unknown>>>(
  required: R,
  optional?: O,
  options: ObjectOptions = {},
): Schema<ObjectValue<R, O>> {
  const optionalFields: Fields = optional ?? {};
  const known = [...Object.keys(required), ...Object.keys(optionalFields)];
  const expected = options.expected ?? 'a mapping';
  return {
    expected,
    validate(input, path, issues) {
      if (!isRecord(input)) {
        issues.push(typeMismatch(path, expected, input));
        return undefined;
      }
      let valid = true;
      const value: Record<string, unknown> = {};
      for (const key of Object.keys(input)) {
        if (known.includes(key)) continue;
        issues.push(unknownKeyIssue(childPath(path, key), key, known));
        valid = false;
      }
      for (const [key, schema] of Object.entries(required)) {
        if (!Object.hasOwn(input, key)) {
          issues.push(createIssue(childPath(path, key), 'required', `missing required key "${key}"`));
          valid = false;
          continue;
        }
        const fieldValue = schema.validate(input[key], childPath(path, key), issues);
        if (fieldValue === undefined) valid = false;
        else value[key] = fieldValue;
      }
      for (const [key, schema] of Object.entries(optionalFields)) {
        if (!Object.hasOwn(input, key) || input[key] === undefined) continue;
        const fieldValue = schema.validate(input[key], childPath(path, key), issues);
        if (fieldValue === undefined) valid = false;
        else value[key] = fieldValue;
      }
      for (const group of options.exactlyOne ?? []) {
        const present = group.filter((key) => Object.hasOwn(input, key));
        if (present.length === 1) continue;
        const got = present.length === 0 ? 'none' : joinAnd(present);
        issues.push(
          createIssue(path, 'exactly_one', `expected exactly one of ${group.join(', ')}, got ${got}`),
        );
        valid = false;
      }
      for (const group of options.exclusive ?? []) {
        const present = group.filter((key) => Object.hasOwn(input, key));
        if (present.length < 2) continue;
        issues.push(
          createIssue(
            path,
            'exclusive_keys',
            `${joinAnd(present.map((key) => `"${key}"`))} cannot be used together`,
          ),
        );
        valid = false;
      }
      return valid ? (value as ObjectValue<R, O>) : undefined;
    },
    toJsonSchema(defs) {
      const properties: Record<string, JsonSchema> = {};
      for (const [key, schema] of [...Object.entries(required), ...Object.entries(optionalFields)]) {
        properties[key] = schema.toJsonSchema(defs);
      }
      const constraints: JsonSchema[] = [
        ...(options.exactlyOne ?? []).map((group) => ({ oneOf: group.map((key) => ({ required: [key] })) })),
        ...(options.exclusive ?? []).flatMap((group) =>
          pairs(group).map(([a, b]) => ({ not: { required: [a, b] } })),
        ),
      ];
      const requiredKeys = Object.keys(required);
      return withDescription(
        {
          type: 'object',
          properties,
          ...(requiredKeys.length > 0 ? { required: requiredKeys } : {}),
          additionalProperties: false,
          ...(constraints.length === 1 ? (constraints[0] as object) : {}),
          ...(constraints.length > 1 ? { allOf: constraints } : {}),
        },
        options.description,
      );
    },
  };
}

/** A mapping from names (matching `keyPattern`) to values of one shape; validates into entries in written order. */
export function record<V>(
  key: Schema<string>,
  value: Schema<V>,
  options: ScalarOptions & { readonly minProperties?: number; readonly expected?: string } = {},
): Schema<readonly (readonly [string, V])[]> {
  const expected = options.expected ?? 'a mapping';
  const minProperties = options.minProperties ?? 0;
  return {
    expected,
    validate(input, path, issues) {
      if (!isRecord(input)) {
        issues.push(typeMismatch(path, expected, input));
        return undefined;
      }
      const keys = Object.keys(input);
      let valid = true;
      if (keys.length < minProperties) {
        issues.push(
          createIssue(
            path,
            'too_few_items',
            `expected ${expected} with at least ${minProperties}, got ${keys.length}`,
          ),
        );
        valid = false;
      }
      const entries: (readonly [string, V])[] = [];
      for (const name of keys) {
        const keyValue = key.validate(name, childPath(path, name), issues);
        const entryValue = value.validate(input[name], childPath(path, name), issues);
        if (keyValue === undefined || entryValue === undefined) valid = false;
        else entries.push([keyValue, entryValue]);
      }
      return valid ? entries : undefined;
    },
    toJsonSchema(defs) {
      return withDescription(
        {
          type: 'object',
          propertyNames: key.toJsonSchema(defs),
          additionalProperties: value.toJsonSchema(defs),
          ...(minProperties > 0 ? { minProperties } : {}),
        },
        options.description,
      );
    },
  };
}

/** One alternative of a `keyed` union: chosen when `key` is present in the mapping. */
export interface KeyedBranch<T> {
  readonly key: string;
  readonly schema: Schema<T>;
}

/**
 * A union of mappings told apart by which key they carry ("oneOf by key"): `{ all: [...] }` vs `{ not: ... }`.
 * More than one branch key is an error; with none, `fallback` applies when one of its `when` keys is present.
 */
export function keyed<T>(
  branches: readonly KeyedBranch<T>[],
  options: ScalarOptions & {
    readonly expected: string;
    readonly fallback?: { readonly when: readonly string[]; readonly schema: Schema<T> };
  },
): Schema<T> {
  const branchKeys = branches.map((branch) => branch.key);
  const { fallback } = options;
  const allKeys = [...new Set([...(fallback?.when ?? []), ...branchKeys])];
  return {
    expected: options.expected,
    validate(input, path, issues) {
      if (!isRecord(input)) {
        issues.push(typeMismatch(path, options.expected, input));
        return undefined;
      }
      const present = branches.filter((branch) => Object.hasOwn(input, branch.key));
      const [only] = present;
      if (present.length > 1) {
        const keys = joinAnd(present.map((branch) => `"${branch.key}"`));
        issues.push(
          createIssue(path, 'ambiguous', `expected only one of ${branchKeys.join(', ')}, got ${keys}`),
        );
        return undefined;
      }
      if (only !== undefined) return only.schema.validate(input, path, issues);
      if (fallback !== undefined && fallback.when.some((key) => Object.hasOwn(input, key))) {
        return fallback.schema.validate(input, path, issues);
      }
      const got = Object.keys(input);
      const gotText =
        got.length === 0 ? 'an empty mapping' : `a mapping with ${joinAnd(got.map((key) => `"${key}"`))}`;
      issues.push(
        createIssue(
          path,
          'invalid_value',
          `expected ${options.expected} (a mapping with one of ${allKeys.join(', ')}), got ${gotText}`,
        ),
      );
      return undefined;
    },
    toJsonSchema(defs) {
      const schemas = [
        ...branches.map((branch) => branch.schema),
        ...(fallback === undefined ? [] : [fallback.schema]),
      ];
      const unique = [...new Set(schemas)];
      return withDescription(
        { oneOf: unique.map((schema) => schema.toJsonSchema(defs)) },
        options.description,
      );
    },
  };
}

/** Converts (and further checks) a validated value; `convert` returns undefined only after pushing an issue. */
export function map<T, U>(
  schema: Schema<T>,
  convert: (value: T, path: string, issues: Issue[]) => U | undefined,
): Schema<U> {
  return {
    expected: schema.expected,
    validate(input, path, issues) {
      const value = schema.validate(input, path, issues);
      return value === undefined ? undefined : convert(value, path, issues);
    },
    toJsonSchema(defs) {
      return schema.toJsonSchema(defs);
    },
  };
}

/** A named, possibly recursive schema, emitted once under `$defs/<name>` and referenced elsewhere. */
export function named<T>(name: string, build: () => Schema<T>): Schema<T> {
  let built: Schema<T> | undefined;
  const resolve = (): Schema<T> => (built ??= build());
  return {
    get expected() {
      return resolve().expected;
    },
    validate(input, path, issues) {
      return resolve().validate(input, path, issues);
    },
    toJsonSchema(defs) {
      if (!defs.has(name)) {
        defs.set(name, true); // placeholder, so recursion stops here
        defs.set(name, resolve().toJsonSchema(defs));
      }
      return { $ref: `#/$defs/${name}` };
    },
  };
}

/** Emits a complete JSON Schema document (draft 2020-12) for `schema`, with every named sub-schema under `$defs`. */
export function toJsonSchemaDocument(
  schema: Schema<unknown>,
  header: { readonly $id?: string; readonly title?: string; readonly description?: string } = {},
): { readonly [keyword: string]: unknown } {
  const defs: JsonSchemaDefs = new Map();
  const root = schema.toJsonSchema(defs);
  const body = typeof root === 'boolean' ? { not: {} } : root;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...header,
    ...body,
    ...(defs.size > 0
      ? { $defs: Object.fromEntries([...defs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) }
      : {}),
  };
}

function unknownKeyIssue(path: string, key: string, known: readonly string[]): Issue {
  const suggestion = closest(key, known);
  const message =
    suggestion === undefined
      ? `unknown key "${key}"; expected one of ${known.join(', ')}`
      : `unknown key "${key}"; did you mean "${suggestion}"?`;
  return createIssue(path, 'unknown_key', message);
}

/** The candidate closest to `word` by edit distance, when close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.max(1, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i += 1) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

function joinAnd(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`;
}

function pairs(items: readonly string[]): (readonly [string, string])[] {
  return items.flatMap((a, index) => items.slice(index + 1).map((b) => [a, b] as const));
}
