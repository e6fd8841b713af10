import Stripe from 'stripe';

/** Stripe's default and recommended tolerance between the signed timestamp and now, in seconds. */
export const STRIPE_WEBHOOK_TOLERANCE_SECONDS = 300;

/** The outcome of verifying a Stripe webhook delivery: the event, or a 400 with the reason. */
export type StripeWebhookResult =
  | { readonly ok: true; readonly event: Stripe.Event }
  | { readonly ok: false; readonly status: 400; readonly reason: string };

/**
 * Verifies a Stripe webhook delivery with the `stripe` package: the raw body (exactly as received, never
 * re-serialized JSON) against the `Stripe-Signature` header and the endpoint secret, with a 300 s
 * tolerance. During a secret rotation Stripe sends one `v1` signature per active secret; any match is
 * accepted. A bad signature, an expired timestamp or a malformed body is `{ ok: false, status: 400 }`,
 * never an exception, so the HTTP route can answer 400 and store nothing. `nowMs` (epoch ms) is for tests.
 */
export function handleStripeWebhook(
  rawBody: string | Buffer,
  signatureHeader: string,
  secret: string,
  nowMs?: number,
): StripeWebhookResult {
  if (secret === '') return { ok: false, status: 400, reason: 'no webhook secret configured' };
  if (signatureHeader === '') return { ok: false, status: 400, reason: 'missing Stripe-Signature header' };
  try {
    const event = Stripe.webhooks.constructEvent(
      rawBody,
      signatureHeader,
      secret,
      STRIPE_WEBHOOK_TOLERANCE_SECONDS,
      undefined,
      nowMs,
    );
    return { ok: true, event };
  } catch (error) {
    return { ok: false, status: 400, reason: error instanceof Error ? error.message : String(error) };
  }
}
