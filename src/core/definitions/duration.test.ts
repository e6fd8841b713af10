import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads every unit into milliseconds', () => {
    expect(['250ms', '30s', '15m', '12h', '30d', '2w'].map((text) => parseDuration(text))).toEqual([
      { ok: true, value: 250 },
      { ok: true, value: 30_000 },
      { ok: true, value: 900_000 },
      { ok: true, value: 43_200_000 },
      { ok: true, value: 2_592_000_000 },
      { ok: true, value: 1_209_600_000 },
    ]);
  });

  it('rejects words, spaces and fractions with the expected form and what arrived', () => {
    for (const text of ['30 days', '30D', '1.5h', 'd30', '']) {
      expect(parseDuration(text)).toEqual({
        ok: false,
        issues: [
          {
            path: '',
            code: 'invalid_duration',
            message: `expected a duration like "30d", got ${JSON.stringify(text)}`,
          },
        ],
      });
    }
  });

  it('rejects a bare number, since the unit is never implied', () => {
    expect(parseDuration(30)).toEqual({
      ok: false,
      issues: [{ path: '', code: 'invalid_duration', message: 'expected a duration like "30d", got 30' }],
    });
  });

  it('rejects a zero duration', () => {
    expect(parseDuration('0d')).toEqual({
      ok: false,
      issues: [
        { path: '', code: 'invalid_duration', message: 'expected a duration greater than zero, got "0d"' },
      ],
    });
  });
});

describe('formatDuration', () => {
  it('uses the largest unit that divides exactly, writing weeks as days', () => {
    expect([2_592_000_000, 604_800_000, 5_400_000, 90_000, 1_500].map(formatDuration)).toEqual([
      '30d',
      '7d',
      '90m',
      '90s',
      '1500ms',
    ]);
  });

  it('round-trips through parseDuration', () => {
    for (const text of ['1d', '36h', '45m', '10s', '999ms']) {
      const parsed = parseDuration(text);
      expect(parsed.ok && formatDuration(parsed.value)).toBe(text);
    }
  });
});
