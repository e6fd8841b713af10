/** A recurring price's billing period, as Stripe names it. */
export type PriceInterval = 'day' | 'week' | 'month' | 'year';

/** Subscription statuses whose items count towards MRR; trialing, canceled, unpaid, paused... count 0. */
export const MRR_STATUSES: ReadonlySet<string> = new Set(['active', 'past_due']);

/** Stripe's zero-decimal currencies: their amounts are already in major units. */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'ugx', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']); // prettier-ignore

/** Months per billing period of one unit of each interval (a year is 12 months, a week 12/52 of one). */
const MONTHS_PER_INTERVAL: Readonly<Record<PriceInterval, number>> = {
  day: 12 / 365,
  week: 12 / 52,
  month: 1,
  year: 12,
};

/**
 * The monthly amount of a recurring price x quantity, in the price's minor units (may be fractional):
 * a yearly price / 12, a weekly one x 52 / 12, a daily one x 365 / 12, each divided by `interval_count`
 * (a price every 3 months is a third of it a month).
 */
export function monthlyAmount(
  unitAmount: number,
  quantity: number,
  interval: PriceInterval,
  intervalCount = 1,
): number {
  if (!(intervalCount > 0)) return 0;
  return (unitAmount * quantity) / (MONTHS_PER_INTERVAL[interval] * intervalCount);
}

/** Converts an amount in minor units to major units (cents to dollars; yen stay yen), rounded to cents. */
export function toMajorUnits(minor: number, currency: string): number {
  const major = ZERO_DECIMAL.has(currency.toLowerCase()) ? minor : minor / 100;
  return Math.round(major * 100) / 100;
}

/** Whether a string is a Stripe recurring interval. */
export function isPriceInterval(value: unknown): value is PriceInterval {
  return value === 'day' || value === 'week' || value === 'month' || value === 'year';
}
