import { describe, expect, it } from 'vitest';
import { BillingLedger, diffBillingTimelines } from './billing-ledger.js';

const T0 = Date.UTC(2026, 2, 1) / 1000;
const DAY = 86_400;
let counter = 0;

function event(type: string, created: number, object: Record<string, unknown>, id?: string) {
  counter++;
  return { id: id ?? `evt_${counter}`, object: 'event', type, created, data: { object } };
}

function subscription(
  status: string,
  items: { amount: number; quantity?: number; interval?: string; count?: number; currency?: string }[],
  id = 'sub_1',
  customer = 'cus_1',
) {
  return {
    id,
    object: 'subscription',
    customer,
    status,
    items: {
      data: items.map((item, i) => ({
        id: `si_${i}`,
        quantity: item.quantity ?? 1,
        price: {
          id: `price_${i}`,
          nickname: 'Team',
          currency: item.currency ?? 'usd',
          unit_amount: item.amount,
          recurring: { interval: item.interval ?? 'month', interval_count: item.count ?? 1 },
        },
      })),
    },
  };
}

const invoice = (id: string, amount: number, customer = 'cus_1') => ({
  id,
  object: 'invoice',
  customer,
  amount_paid: amount,
});

function mrrNow(ledger: BillingLedger, customers = ['cus_1']): number {
  return ledger.timeline(customers).at(-1)?.traits.mrr ?? 0;
}

describe('BillingLedger MRR', () => {
  it('counts quantity x unit amount of active items, normalized to a month', () => {
    const ledger = new BillingLedger();
    ledger.apply(
      event('customer.subscription.created', T0, subscription('active', [
        { amount: 1500, quantity: 4 },
        { amount: 120000, interval: 'year' },
        { amount: 1200, interval: 'week' },
        { amount: 9000, interval: 'month', count: 3 },
      ])),
    ); // prettier-ignore
    // 60 + 100 + 52 + 30 dollars a month
    expect(mrrNow(ledger)).toBe(242);
  });

  it('counts trialing and canceled subscriptions as 0, and a $0 trial invoice is not a conversion', () => {
    const ledger = new BillingLedger();
    ledger.apply(event('customer.subscription.created', T0, subscription('trialing', [{ amount: 2000 }])));
    ledger.apply(event('invoice.paid', T0, invoice('in_0', 0)));
    expect(ledger.timeline(['cus_1'])).toEqual([
      { at: T0 * 1000, traits: { paying: false, mrr: 0, plan: 'trial' } },
    ]);
    ledger.apply(event('customer.subscription.deleted', T0 + 14 * DAY, subscription('canceled', [{ amount: 2000 }]))); // prettier-ignore
    expect(ledger.timeline(['cus_1']).at(-1)).toEqual({
      at: (T0 + 14 * DAY) * 1000,
      traits: { paying: false, mrr: 0, plan: 'canceled' },
    });
  });

  it('gives paying, mrr, plan and converted_at over time: trial, conversion, churn', () => {
    const ledger = new BillingLedger();
    ledger.apply(event('customer.subscription.created', T0, subscription('trialing', [{ amount: 2000 }])));
    ledger.apply(event('customer.subscription.updated', T0 + 5 * DAY, subscription('active', [{ amount: 2000, quantity: 3 }]))); // prettier-ignore
    ledger.apply(event('invoice.paid', T0 + 5 * DAY, invoice('in_1', 6000)));
    ledger.apply(event('customer.subscription.deleted', T0 + 40 * DAY, subscription('canceled', [{ amount: 2000, quantity: 3 }]))); // prettier-ignore
    const converted = new Date((T0 + 5 * DAY) * 1000).toISOString();
    expect(ledger.timeline(['cus_1'])).toEqual([
      { at: T0 * 1000, traits: { paying: false, mrr: 0, plan: 'trial' } },
      {
        at: (T0 + 5 * DAY) * 1000,
        traits: { paying: true, mrr: 60, mrr_currency: 'usd', plan: 'Team', converted_at: converted },
      },
      {
        at: (T0 + 40 * DAY) * 1000,
        traits: { paying: false, mrr: 0, plan: 'canceled', converted_at: converted },
      },
    ]);
  });
});

describe('BillingLedger under replays and reordering', () => {
  const history = () => [
    event('customer.created', T0, { id: 'cus_1', email: 'a@acme.com', metadata: {} }, 'evt_a'),
    event('customer.subscription.created', T0 + 60, subscription('active', [{ amount: 1000, quantity: 2 }]), 'evt_b'), // prettier-ignore
    event('invoice.paid', T0 + 60, invoice('in_1', 2000), 'evt_c'),
    event('customer.subscription.updated', T0 + 10 * DAY, subscription('active', [{ amount: 1000, quantity: 5 }]), 'evt_d'), // prettier-ignore
    event('customer.updated', T0 + 11 * DAY, { id: 'cus_1', email: 'a@acme.com', metadata: { account_id: 'acc_1' } }, 'evt_e'), // prettier-ignore
    event('customer.subscription.updated', T0 + 20 * DAY, subscription('active', [{ amount: 1000, quantity: 4 }]), 'evt_f'), // prettier-ignore
  ];

  it('ends in the same MRR and timeline for every delivery order, with every event delivered twice', () => {
    const inOrder = new BillingLedger();
    for (const e of history()) inOrder.apply(e);
    const expected = inOrder.timeline(['cus_1']);
    expect(expected.at(-1)?.traits.mrr).toBe(40);
    const events = history();
    // A few deterministic shuffles: reversed, rotated, interleaved.
    const orders = [
      [...events].reverse(),
      [...events.slice(3), ...events.slice(0, 3)],
      [events[5], events[0], events[3], events[1], events[4], events[2]],
    ];
    for (const order of orders) {
      const ledger = new BillingLedger();
      for (const e of [...order, ...order]) ledger.apply(e);
      expect(ledger.timeline(['cus_1'])).toEqual(expected);
      expect(ledger.customers()).toEqual([
        { customerId: 'cus_1', at: (T0 + 11 * DAY) * 1000, accountId: 'acc_1', email: 'a@acme.com' },
      ]);
    }
  });

  it('never lets a stale update overwrite a newer state', () => {
    const ledger = new BillingLedger();
    ledger.apply(event('customer.subscription.updated', T0 + 10 * DAY, subscription('active', [{ amount: 1000, quantity: 5 }]))); // prettier-ignore
    const stale = ledger.apply(event('customer.subscription.created', T0, subscription('active', [{ amount: 1000 }]))); // prettier-ignore
    expect(stale).toEqual({ kind: 'applied', customerId: 'cus_1', stale: true });
    expect(mrrNow(ledger)).toBe(50);
    // The older state still counts for its own period.
    expect(ledger.timeline(['cus_1'])[0]).toMatchObject({ at: T0 * 1000, traits: { mrr: 10 } });
  });

  it('keeps a cancellation final even when an older update arrives after it', () => {
    const ledger = new BillingLedger();
    ledger.apply(event('customer.subscription.deleted', T0 + 30 * DAY, subscription('canceled', [{ amount: 1000 }]))); // prettier-ignore
    ledger.apply(event('customer.subscription.updated', T0 + 30 * DAY, subscription('active', [{ amount: 1000 }]))); // prettier-ignore
    expect(mrrNow(ledger)).toBe(0);
  });

  it('counts a repeated event id as a duplicate and an unhandled type as unhandled', () => {
    const ledger = new BillingLedger();
    const e = event('invoice.paid', T0, invoice('in_1', 500));
    expect(ledger.apply(e).kind).toBe('applied');
    expect(ledger.apply(e)).toEqual({ kind: 'duplicate' });
    expect(ledger.apply(event('charge.succeeded', T0, { id: 'ch_1' }))).toEqual({
      kind: 'unhandled',
      type: 'charge.succeeded',
    });
    expect(ledger.apply({ nope: true }).kind).toBe('invalid');
  });
});

describe('diffBillingTimelines', () => {
  it('sends only new or changed points after a late event', () => {
    const a = { at: 1, traits: { paying: false, mrr: 0 } };
    const b = { at: 5, traits: { paying: true, mrr: 10 } };
    const b2 = { at: 5, traits: { paying: true, mrr: 30 } };
    const c = { at: 3, traits: { paying: true, mrr: 20 } };
    expect(diffBillingTimelines([a, b], [a, c, b2])).toEqual([c, b2]);
    expect(diffBillingTimelines([a, b], [a, b])).toEqual([]);
  });
});
