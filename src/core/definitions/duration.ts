/**
 * Durations in definitions: an integer and a unit (`30d`, `12h`, `90m`), held as milliseconds inside.
 */
import type { Parsed } from '../issues.js';
import { createIssue } from '../issues.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** The units a duration may use, from the smallest. */
export const DURATION_UNITS = ['ms', 's', 'm', 'h', 'd', 'w'] as const;

/** The textual form every duration must match, shared by the parser and the JSON Schema. */
export const DURATION_PATTERN = /^([0-9]+)(ms|s|m|h|d|w)$/;

/** Parses `30d` (units ms, s, m, h, d, w; a positive integer) into milliseconds, or an issue saying what was expected. */
export function parseDuration(input: unknown): Parsed<number> {
  const match = typeof input === 'string' ? DURATION_PATTERN.exec(input) : null;
  if (match === null) {
    return fail('invalid_duration', `expected a duration like "30d", got ${describeInput(input)}`);
  }
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof UNIT_MS;
  if (amount === 0)
    return fail('invalid_duration', `expected a duration greater than zero, got "${String(input)}"`);
  const ms = amount * UNIT_MS[unit];
  if (!Number.isSafeInteger(ms)) return fail('invalid_duration', `duration "${String(input)}" is too long`);
  return { ok: true, value: ms };
}

/** Formats milliseconds with the largest of d, h, m, s, ms that divides them exactly (`2592000000` → `30d`); weeks are written as days. */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms !== 0 && ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}

function fail(code: string, message: string): Parsed<number> {
  return { ok: false, issues: [createIssue('', code, message)] };
}

function describeInput(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input);
  if (input === undefined) return 'nothing';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object' && input !== null) return 'a mapping';
  return String(input);
}
