/**
 * The written form of routing rules (snake_case, as in the definition language), shared by a definition's
 * `route` and the `routing:` block of `pql.yaml`, so both accept the same shapes with the same messages.
 */
import { childPath, createIssue } from '../issues.js';
import { array, integer, map, object, string, type Schema } from '../definitions/schema.js';
import type { SegmentRule, TerritoryRule } from './owner-router.js';

const nonEmpty = string({ minLength: 1, expected: 'a non-empty string' });

const employeesSchema = integer({
  minimum: 0,
  expected: 'a whole number',
  description: 'A number of employees (the account trait "employees").',
});

const territoryRuleSchema: Schema<TerritoryRule> = map(
  object(
    {
      territory: string({
        minLength: 1,
        expected: 'a territory name like "EMEA"',
        description: 'Matched against the territory column of the CRM owners.',
      }),
      countries: array(
        string({ minLength: 1, expected: 'a country like "GB"', description: 'A country code like "GB".' }),
        { minItems: 1 },
      ),
    },
    {},
    {
      expected: 'a territory like { territory: EMEA, countries: [GB, DE] }',
      description: 'Accounts whose country trait is one of these go to the reps of this territory.',
    },
  ),
  // The router compares upper case: "gb" in a rule matches an account in "GB" and in "gb".
  (value) => ({ territory: value.territory, countries: value.countries.map((c) => c.toUpperCase()) }),
);

const segmentRuleSchema: Schema<SegmentRule> = map(
  object(
    {
      name: string({ minLength: 1, expected: 'a segment name like "enterprise"' }),
      owners: array(nonEmpty, { minItems: 1, description: 'Owner ids, taken in a weighted round-robin.' }),
    },
    { min_employees: employeesSchema, max_employees: employeesSchema },
    {
      expected: 'a segment like { name: enterprise, min_employees: 500, owners: [owner-1] }',
      description:
        'Accounts with min_employees <= employees <= max_employees (either bound may be left out) go to these owners.',
    },
  ),
  (value, path, issues) => {
    const min = value.min_employees;
    const max = value.max_employees;
    if (min === undefined && max === undefined) {
      issues.push(
        createIssue(
          path,
          'required',
          `segment "${value.name}" needs min_employees, max_employees or both (an employee range)`,
        ),
      );
      return undefined;
    }
    if (min !== undefined && max !== undefined && max < min) {
      issues.push(
        createIssue(
          childPath(path, 'max_employees'),
          'invalid_value',
          `expected a whole number of at least ${min} (min_employees), got ${max}`,
        ),
      );
      return undefined;
    }
    return { name: value.name, minEmployees: min, maxEmployees: max, owners: value.owners };
  },
);

/** Territory rules in order; a country may belong to one territory only. */
export const territoriesSchema: Schema<readonly TerritoryRule[]> = map(
  array(territoryRuleSchema, {
    description:
      'Territories by country, first match wins; a list here replaces the global one (built in: NA, EMEA, APAC).',
  }),
  (territories, path, issues) => {
    const seen = new Map<string, string>();
    const before = issues.length;
    territories.forEach((rule, index) => {
      for (const country of rule.countries) {
        const owner = seen.get(country);
        if (owner === undefined) seen.set(country, rule.territory);
        else
          issues.push(
            createIssue(
              childPath(childPath(path, index), 'countries'),
              'duplicate_country',
              `country "${country}" is already in territory ${owner}; a country belongs to one territory`,
            ),
          );
      }
    });
    return issues.length > before ? undefined : territories;
  },
);

/** Segment rules in order (first match wins), each named once. */
export const segmentsSchema: Schema<readonly SegmentRule[]> = map(
  array(segmentRuleSchema, {
    description:
      'Segments by employee range, first match wins, checked before territories; a list here replaces the global one.',
  }),
  (segments, path, issues) => {
    const before = issues.length;
    segments.forEach((segment, index) => {
      const first = segments.findIndex((s) => s.name === segment.name);
      if (first !== index)
        issues.push(
          createIssue(
            childPath(childPath(path, index), 'name'),
            'duplicate_name',
            `duplicate segment name "${segment.name}"; already used at ${childPath(path, first)}`,
          ),
        );
    });
    return issues.length > before ? undefined : segments;
  },
);

/** Routing rules as written, each kind optional (undefined: keep the default or the global rules). */
export interface WrittenRoutingRules {
  readonly territories: readonly TerritoryRule[] | undefined;
  readonly segments: readonly SegmentRule[] | undefined;
}

/** The `routing:` block of `pql.yaml`: `territories` and `segments`, both optional. */
export const routingRulesSchema: Schema<WrittenRoutingRules> = map(
  object(
    {},
    { territories: territoriesSchema, segments: segmentsSchema },
    { expected: 'a mapping with territories and segments' },
  ),
  (value) => ({ territories: value.territories, segments: value.segments }),
);
