import { describe, expect, it } from 'vitest';
import { monthlyAmount, toMajorUnits } from './mrr.js';

describe('monthlyAmount', () => {
  it('takes a monthly price x quantity as is', () => {
    expect(monthlyAmount(2000, 3, 'month')).toBe(6000);
  });
  it('divides a yearly price by 12', () => {
    expect(monthlyAmount(24000, 1, 'year')).toBe(2000);
  });
  it('multiplies a weekly price by 52 / 12', () => {
    expect(monthlyAmount(1200, 1, 'week')).toBeCloseTo(5200, 9);
  });
  it('multiplies a daily price by 365 / 12', () => {
    expect(monthlyAmount(120, 1, 'day')).toBeCloseTo(3650, 9);
  });
  it('honours interval_count: every 3 months is a third a month, every 2 years is / 24', () => {
    expect(monthlyAmount(9000, 1, 'month', 3)).toBe(3000);
    expect(monthlyAmount(48000, 2, 'year', 2)).toBe(4000);
  });
  it('converts minor to major units, leaving zero-decimal currencies alone', () => {
    expect(toMajorUnits(12345.6, 'usd')).toBe(123.46);
    expect(toMajorUnits(5000, 'JPY')).toBe(5000);
  });
});
