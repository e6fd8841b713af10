import { describe, expect, it } from 'vitest';
import type { Issue } from '../issues.js';
import type { Schema } from './schema.js';
import {
  array,
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
  toJsonSchemaDocument,
} from './schema.js';

function run<T>(schema: Schema<T>, input: unknown): { value: T | undefined; issues: Issue[] } {
  const issues: Issue[] = [];
  const value = schema.validate(input, 'root', issues);
  return { value, issues };
}

describe('object', () => {
  const point = object({ x: number() }, { label: string() });

  it('validates required and optional keys', () => {
    expect(run(point, { x: 1, label: 'a' })).toEqual({ value: { x: 1, label: 'a' }, issues: [] });
  });

  it('reports an unknown key with a suggestion when it is close to a known one', () => {
    expect(run(point, { x: 1, lable: 'a' }).issues).toEqual([
      { path: 'root.lable', code: 'unknown_key', message: 'unknown key "lable"; did you mean "label"?' },
    ]);
  });

  it('lists the known keys when an unknown key is not close to any', () => {
    expect(run(point, { x: 1, colour: 'red' }).issues).toEqual([
      { path: 'root.colour', code: 'unknown_key', message: 'unknown key "colour"; expected one of x, label' },
    ]);
  });

  it('reports every problem of the mapping, not only the first', () => {
    expect(run(point, { label: 3, extra: true })).toEqual({
      value: undefined,
      issues: [
        { path: 'root.extra', code: 'unknown_key', message: 'unknown key "extra"; expected one of x, label' },
        { path: 'root.x', code: 'required', message: 'missing required key "x"' },
        { path: 'root.label', code: 'invalid_type', message: 'expected a string, got 3' },
      ],
    });
  });

  it('requires exactly one key of an exactlyOne group', () => {
    const comparison = object({}, { gte: number(), lt: number() }, { exactlyOne: [['gte', 'lt']] });
    expect([run(comparison, {}).issues, run(comparison, { gte: 1, lt: 2 }).issues]).toEqual([
      [{ path: 'root', code: 'exactly_one', message: 'expected exactly one of gte, lt, got none' }],
      [{ path: 'root', code: 'exactly_one', message: 'expected exactly one of gte, lt, got gte and lt' }],
    ]);
  });

  it('rejects keys of an exclusive group used together', () => {
    const window = object({}, { window: string(), within: string() }, { exclusive: [['window', 'within']] });
    expect(run(window, { window: 'a', within: 'b' }).issues).toEqual([
      { path: 'root', code: 'exclusive_keys', message: '"window" and "within" cannot be used together' },
    ]);
  });

  it('rejects a list where a mapping is expected', () => {
    expect(run(point, [1]).issues).toEqual([
      { path: 'root', code: 'invalid_type', message: 'expected a mapping, got a list' },
    ]);
  });

  it('emits a closed JSON Schema object with required keys and the exactlyOne rule', () => {
    const schema = object(
      { a: number() },
      { b: integer({ minimum: 1 }), c: number() },
      { exactlyOne: [['b', 'c']] },
    );
    expect(schema.toJsonSchema(new Map())).toEqual({
      type: 'object',
      properties: { a: { type: 'number' }, b: { type: 'integer', minimum: 1 }, c: { type: 'number' } },
      required: ['a'],
      additionalProperties: false,
      oneOf: [{ required: ['b'] }, { required: ['c'] }],
    });
  });
});

describe('array and record', () => {
  it('locates item issues by index', () => {
    expect(run(array(number(), { minItems: 1 }), [1, 'two', 3]).issues).toEqual([
      { path: 'root[1]', code: 'invalid_type', message: 'expected a number, got "two"' },
    ]);
  });

  it('enforces a minimum number of items', () => {
    expect(run(array(number(), { minItems: 2 }), [1]).issues).toEqual([
      { path: 'root', code: 'too_few_items', message: 'expected at least 2 items, got 1' },
    ]);
  });

  it('keeps record entries in written order and checks keys', () => {
    const names = record(string({ pattern: /^[a-z]+$/, expected: 'a lowercase name' }), number());
    expect(run(names, { b: 1, a: 2 })).toEqual({
      value: [
        ['b', 1],
        ['a', 2],
      ],
      issues: [],
    });
    expect(run(names, { B: 1 }).issues).toEqual([
      { path: 'root.B', code: 'invalid_value', message: 'expected a lowercase name, got "B"' },
    ]);
  });
});

describe('scalars', () => {
  it('validates durations into milliseconds', () => {
    expect(run(duration(), '2h')).toEqual({ value: 7_200_000, issues: [] });
    expect(run(duration(), '2 hours').issues).toEqual([
      { path: 'root', code: 'invalid_duration', message: 'expected a duration like "30d", got "2 hours"' },
    ]);
  });

  it('names the allowed values of an enum', () => {
    expect(run(enumOf(['crm', 'none']), 'sales').issues).toEqual([
      { path: 'root', code: 'invalid_value', message: 'expected one of "crm", "none", got "sales"' },
    ]);
  });

  it('rejects a fractional integer and one below the minimum', () => {
    expect([run(integer(), 1.5).issues, run(integer({ minimum: 1 }), 0).issues]).toEqual([
      [{ path: 'root', code: 'invalid_type', message: 'expected an integer, got 1.5' }],
      [{ path: 'root', code: 'invalid_value', message: 'expected an integer of at least 1, got 0' }],
    ]);
  });
});

describe('keyed and byType unions', () => {
  const shape = keyed<string>(
    [
      { key: 'circle', schema: map(object({ circle: number() }), (v) => `circle ${v.circle}`) },
      { key: 'square', schema: map(object({ square: number() }), (v) => `square ${v.square}`) },
    ],
    { expected: 'a shape' },
  );

  it('chooses the branch by the key present', () => {
    expect(run(shape, { square: 2 })).toEqual({ value: 'square 2', issues: [] });
  });

  it('rejects a mapping with two branch keys', () => {
    expect(run(shape, { circle: 1, square: 2 }).issues).toEqual([
      {
        path: 'root',
        code: 'ambiguous',
        message: 'expected only one of circle, square, got "circle" and "square"',
      },
    ]);
  });

  it('says which keys would choose a branch when none is present', () => {
    expect(run(shape, { triangle: 3 }).issues).toEqual([
      {
        path: 'root',
        code: 'invalid_value',
        message: 'expected a shape (a mapping with one of circle, square), got a mapping with "triangle"',
      },
    ]);
  });

  it('dispatches on the JSON type of the input', () => {
    const loose = byType<number>({ number: number(), string: map(string(), (text) => text.length) });
    expect([run(loose, 4).value, run(loose, 'four').value, run(loose, true).issues]).toEqual([
      4,
      4,
      [{ path: 'root', code: 'invalid_type', message: 'expected a string or a number, got true' }],
    ]);
  });
});

describe('named schemas and JSON Schema documents', () => {
  interface Tree {
    readonly children: readonly Tree[];
  }
  const tree: Schema<Tree> = named('tree', () =>
    map(object({}, { children: array(tree) }), (v) => ({ children: v.children ?? [] })),
  );

  it('validates recursive input', () => {
    expect(run(tree, { children: [{ children: [{}] }] }).value).toEqual({
      children: [{ children: [{ children: [] }] }],
    });
    expect(run(tree, { children: [{ children: [{ leaf: 1 }] }] }).issues).toEqual([
      {
        path: 'root.children[0].children[0].leaf',
        code: 'unknown_key',
        message: 'unknown key "leaf"; expected one of children',
      },
    ]);
  });

  it('emits a recursive schema once under $defs and refers to it', () => {
    expect(toJsonSchemaDocument(tree, { title: 'Tree' })).toEqual({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      title: 'Tree',
      $ref: '#/$defs/tree',
      $defs: {
        tree: {
          type: 'object',
          properties: { children: { type: 'array', items: { $ref: '#/$defs/tree' } } },
          additionalProperties: false,
        },
      },
    });
  });
});

describe('closest', () => {
  it('suggests a candidate only within a typo distance', () => {
    expect([closest('windw', ['window', 'within']), closest('colour', ['window', 'within'])]).toEqual([
      'window',
      undefined,
    ]);
  });
});
