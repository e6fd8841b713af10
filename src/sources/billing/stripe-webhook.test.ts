import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { handleStripeWebhook } from './stripe-webhook.js';

const SECRET = 'whsec_test_current';
const OLD_SECRET = 'whsec_test_previous';
const NOW = Date.UTC(2026, 5, 1, 12);
const nowSeconds = Math.floor(NOW / 1000);
const payload = JSON.stringify({
  id: 'evt_1',
  object: 'event',
  type: 'invoice.paid',
  created: nowSeconds,
  data: { object: { id: 'in_1', object: 'invoice', customer: 'cus_1', amount_paid: 4200 } },
});
const sign = (secret: string, timestamp = nowSeconds, body = payload): string =>
  Stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp });

describe('handleStripeWebhook', () => {
  it('accepts a correctly signed body and returns the event', () => {
    const result = handleStripeWebhook(payload, sign(SECRET), SECRET, NOW);
    expect(result.ok && result.event.id).toBe('evt_1');
    expect(handleStripeWebhook(Buffer.from(payload), sign(SECRET), SECRET, NOW).ok).toBe(true);
  });

  it('rejects a signature older than 300 s (t - 301 s) with 400', () => {
    const result = handleStripeWebhook(payload, sign(SECRET, nowSeconds - 301), SECRET, NOW);
    expect(result).toMatchObject({ ok: false, status: 400 });
    expect(handleStripeWebhook(payload, sign(SECRET, nowSeconds - 299), SECRET, NOW).ok).toBe(true);
  });

  it('rejects a tampered body', () => {
    const tampered = payload.replace('4200', '9999');
    expect(handleStripeWebhook(tampered, sign(SECRET), SECRET, NOW)).toMatchObject({
      ok: false,
      status: 400,
    });
  });

  it('rejects a body signed with another secret', () => {
    expect(handleStripeWebhook(payload, sign('whsec_wrong'), SECRET, NOW)).toMatchObject({
      ok: false,
      status: 400,
    });
  });

  it('accepts either of two v1 signatures during a secret rotation', () => {
    const v1 = (header: string): string => header.split(',').find((p) => p.startsWith('v1=')) as string;
    const header = `t=${nowSeconds},${v1(sign(OLD_SECRET))},${v1(sign(SECRET))}`;
    expect(handleStripeWebhook(payload, header, SECRET, NOW).ok).toBe(true);
    expect(handleStripeWebhook(payload, header, OLD_SECRET, NOW).ok).toBe(true);
    expect(handleStripeWebhook(payload, header, 'whsec_third', NOW).ok).toBe(false);
  });

  it('rejects a signature of another length, a garbage header and a missing header without throwing', () => {
    expect(handleStripeWebhook(payload, `t=${nowSeconds},v1=abc123`, SECRET, NOW)).toMatchObject({ ok: false, status: 400 }); // prettier-ignore
    expect(handleStripeWebhook(payload, 'garbage', SECRET, NOW)).toMatchObject({ ok: false, status: 400 });
    expect(handleStripeWebhook(payload, '', SECRET, NOW)).toMatchObject({ ok: false, status: 400 });
  });
});
