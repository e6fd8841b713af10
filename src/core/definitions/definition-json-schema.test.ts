import { describe, expect, it } from 'vitest';
import { definitionJsonSchema } from './definition-json-schema.js';

type Node = Record<string, unknown> | boolean;

/**
 * A minimal JSON Schema checker for exactly the keywords the generator emits; enough to show the emitted
 * schema accepts valid definitions and rejects broken ones, without a validator dependency.
 */
function accepts(schema: Node, value: unknown, root: Record<string, unknown>): boolean {
  if (typeof schema === 'boolean') return schema;
  const ref = schema['$ref'];
  if (typeof ref === 'string') {
    const name = ref.replace('#/$defs/', '');
    return accepts((root['$defs'] as Record<string, Node>)[name] ?? false, value, root);
  }
  const isObject = typeof value === 'object' && value !== null && !Array.isArray(value);
  const record = value as Record<string, unknown>;
  const checks: boolean[] = [];
  const type = schema['type'];
  if (type === 'object') checks.push(isObject);
  if (type === 'array') checks.push(Array.isArray(value));
  if (type === 'string') checks.push(typeof value === 'string');
  if (type === 'number') checks.push(typeof value === 'number');
  if (type === 'integer') checks.push(Number.isInteger(value));
  if (type === 'boolean') checks.push(typeof value === 'boolean');
  if (checks.includes(false)) return false;
  if ('const' in schema) checks.push(value === schema['const']);
  if (Array.isArray(schema['enum'])) checks.push(schema['enum'].includes(value));
  if (typeof schema['pattern'] === 'string' && typeof value === 'string')
    checks.push(new RegExp(schema['pattern'], 'u').test(value));
  if (typeof schema['minLength'] === 'number' && typeof value === 'string')
    checks.push(value.length >= schema['minLength']);
  if (typeof schema['minimum'] === 'number' && typeof value === 'number')
    checks.push(value >= schema['minimum']);
  if (Array.isArray(value)) {
    if (typeof schema['minItems'] === 'number') checks.push(value.length >= schema['minItems']);
    if (schema['items'] !== undefined)
      checks.push(value.every((item) => accepts(schema['items'] as Node, item, root)));
  }
  if (isObject) {
    const properties = (schema['properties'] ?? {}) as Record<string, Node>;
    const required = (schema['required'] ?? []) as string[];
    checks.push(required.every((key) => key in record));
    if (typeof schema['minProperties'] === 'number')
      checks.push(Object.keys(record).length >= schema['minProperties']);
    for (const [key, member] of Object.entries(record)) {
      if (schema['propertyNames'] !== undefined)
        checks.push(accepts(schema['propertyNames'] as Node, key, root));
      if (key in properties) checks.push(accepts(properties[key] ?? false, member, root));
      else if (schema['additionalProperties'] !== undefined)
        checks.push(accepts(schema['additionalProperties'] as Node, member, root));
    }
  }
  if (Array.isArray(schema['oneOf']))
    checks.push((schema['oneOf'] as Node[]).filter((s) => accepts(s, value, root)).length === 1);
  if (Array.isArray(schema['anyOf']))
    checks.push((schema['anyOf'] as Node[]).some((s) => accepts(s, value, root)));
  if (Array.isArray(schema['allOf']))
    checks.push((schema['allOf'] as Node[]).every((s) => accepts(s, value, root)));
  if (schema['not'] !== undefined) checks.push(!accepts(schema['not'] as Node, value, root));
  return !checks.includes(false);
}

const schema = definitionJsonSchema();
const valid = (value: unknown): boolean => accepts(schema, value, schema);

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

describe('definitionJsonSchema', () => {
  it('is a draft 2020-12 document with the top-level keys, required ones and no others', () => {
    expect(schema['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema['type']).toBe('object');
    expect(schema['required']).toStrictEqual(['id', 'name', 'signals', 'qualify']);
    expect(Object.keys(schema['properties'] as object)).toStrictEqual([
      'id',
      'name',
      'signals',
      'qualify',
      '$schema',
      'description',
      'fit',
      'exclude',
      'expire',
      'route',
      'next_step',
    ]);
    expect(schema['additionalProperties']).toBe(false);
    expect(Object.keys(schema['$defs'] as object)).toStrictEqual(['condition', 'signal']);
  });

  it('constrains signal names and durations with the same patterns as the parser', () => {
    const properties = schema['properties'] as Record<string, Record<string, unknown>>;
    expect(properties['signals']?.['propertyNames']).toStrictEqual({
      type: 'string',
      pattern: '^[a-z_][a-z0-9_]*$',
    });
    expect(properties['expire']?.['pattern']).toBe('^([0-9]+)(ms|s|m|h|d|w)$');
  });

  it('accepts the seed example and the shapes of every signal kind', () => {
    expect(valid(seed)).toBe(true);
    const more = {
      ...seed,
      signals: {
        pages: { page: '*', where: [{ property: 'properties.plan', in: ['pro', 'team'] }], count: 3 },
        integrations: {
          event: ['Integration Connected'],
          distinct: 'properties.integration',
          gte: 2,
          within: '7d',
          after: 'pages',
        },
        steps: {
          funnel: [
            'A',
            { event: 'B', where: [{ property: 'properties.ok', exists: true }] },
            { screen: 'C' },
          ],
          within: '3d',
        },
      },
      fit: [{ not: { trait: 'name', matches: '^Test' } }, { trait: 'created_at', gte: '2024-01-01' }],
      route: {
        owner: 'crm',
        territories: [{ territory: 'DACH', countries: ['DE', 'AT', 'CH'] }],
        segments: [
          { name: 'enterprise', min_employees: 500, owners: ['owner-3'] },
          { name: 'smb', min_employees: 1, max_employees: 49, owners: ['owner-4', 'owner-5'] },
        ],
        fallback: { owner: 'owner-7' },
      },
    };
    expect(valid(more)).toBe(true);
  });

  it('rejects what the parser rejects structurally', () => {
    const withSignal = (signal: unknown) => ({ ...seed, signals: { s: signal } });
    expect(valid(withSignal({ event: 'E', window: '3d' }))).toBe(true);
    expect([
      valid({ ...seed, nmae: 'x' }),
      valid({ ...seed, id: 'Bad Id' }),
      valid({ ...seed, expire: '30 days' }),
      valid(withSignal({ event: 'E', window: '30 days' })),
      valid(withSignal({ event: 'E', sum: 'properties.a', gte: 1, lt: 2 })),
      valid(withSignal({ event: 'E', sum: 'properties.a', distinct: 'properties.b', gte: 1 })),
      valid(withSignal({ event: 'E', window: '3d', within: '3d of signup' })),
      valid({ ...seed, exclude: { trait: 'paying', eq: true, neq: false } }),
      valid({ ...seed, qualify: { all: [], any: [] } }),
      valid({ ...seed, route: { owner: 'sales' } }),
      valid({ ...seed, route: { segments: [{ name: 'big', min_employees: 'many', owners: ['o1'] }] } }),
      valid({ ...seed, route: { segments: [{ name: 'big', min_employees: 500, owners: [] }] } }),
      valid({ ...seed, route: { territories: [{ territory: 'EMEA', countries: [] }] } }),
      valid({ ...seed, route: { territories: [{ countries: ['GB'] }] } }),
    ]).toStrictEqual(new Array(14).fill(false));
  });
});
