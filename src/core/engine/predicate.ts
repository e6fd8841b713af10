import type { PredicateOp } from '../definitions/definition.js';

/** A compiled predicate over one value (a trait or an event property). */
export type ValuePredicate = (value: unknown) => boolean;

/** Reads a nested value by path; undefined when any step is missing. */
export function readPath(root: unknown, path: readonly string[]): unknown {
  let current: unknown = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** Parses a number from a number or numeric string; NaN otherwise. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') return Number(value);
  if (typeof value === 'boolean') return NaN;
  return NaN;
}

/** Parses an ISO-8601 date string or epoch-ms number to epoch ms; NaN otherwise. */
export function toTime(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) return Date.parse(value);
  return NaN;
}

/** Equality that treats `"10"` and `10`, `"true"` and `true` as equal (CSV and JSON sources mix them). */
export function looseEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === 'number' || typeof b === 'number') {
    const x = toNumber(a);
    const y = toNumber(b);
    return !Number.isNaN(x) && x === y;
  }
  if (typeof a === 'boolean' || typeof b === 'boolean') return String(a) === String(b);
  return false;
}

function compareOrdered(value: unknown, operand: unknown): number {
  // Numbers compare as numbers; ISO dates (operand written as a date string) compare as times.
  if (typeof operand === 'string' && Number.isNaN(Number(operand))) {
    const a = toTime(value);
    const b = toTime(operand);
    return Number.isNaN(a) || Number.isNaN(b) ? NaN : a - b;
  }
  const a = toNumber(value);
  const b = toNumber(operand);
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : a - b;
}

/**
 * Compiles a predicate. A missing value (undefined or null) satisfies only `exists: false`; a value that
 * cannot be compared (a word where a number is expected) satisfies no ordering operator.
 */
export function compilePredicate(op: PredicateOp, operand: unknown): ValuePredicate {
  const missing = (v: unknown): boolean => v === undefined || v === null;
  switch (op) {
    case 'exists':
      return operand === false ? (v) => missing(v) : (v) => !missing(v);
    case 'eq':
      return (v) => !missing(v) && looseEquals(v, operand);
    case 'neq':
      return (v) => !missing(v) && !looseEquals(v, operand);
    case 'in': {
      const list = Array.isArray(operand) ? operand : [operand];
      return (v) => !missing(v) && list.some((item) => looseEquals(v, item));
    }
    case 'not_in': {
      const list = Array.isArray(operand) ? operand : [operand];
      return (v) => !missing(v) && !list.some((item) => looseEquals(v, item));
    }
    case 'gt':
      return (v) => !missing(v) && compareOrdered(v, operand) > 0;
    case 'gte':
      return (v) => !missing(v) && compareOrdered(v, operand) >= 0;
    case 'lt':
      return (v) => !missing(v) && compareOrdered(v, operand) < 0;
    case 'lte':
      return (v) => !missing(v) && compareOrdered(v, operand) <= 0;
    case 'matches': {
      const pattern = new RegExp(String(operand));
      return (v) => !missing(v) && pattern.test(String(v));
    }
  }
}

/** Renders a predicate as text for explanations: `employees >= 10`, `country in [US, CA]`. */
export function describePredicate(subject: string, op: PredicateOp, operand: unknown): string {
  const symbols: Partial<Record<PredicateOp, string>> = {
    eq: '=',
    neq: '!=',
    gt: '>',
    gte: '>=',
    lt: '<',
    lte: '<=',
  };
  const text = (v: unknown): string =>
    Array.isArray(v) ? `[${v.map((x) => String(x)).join(', ')}]` : String(v);
  const symbol = symbols[op];
  if (symbol !== undefined) return `${subject} ${symbol} ${text(operand)}`;
  if (op === 'exists') return operand === false ? `${subject} is not set` : `${subject} is set`;
  if (op === 'matches') return `${subject} matches /${String(operand)}/`;
  return `${subject} ${op === 'in' ? 'in' : 'not in'} ${text(operand)}`;
}
