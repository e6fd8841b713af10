import type { Channel, Delivery, SendResult } from '../channel.js';
import { postJson } from '../channel.js';
import { signStandardWebhook } from './standard-webhooks.js';

/** Options of the signed webhook channel. */
export interface WebhookChannelOptions {
  readonly url: string;
  /** `whsec_...` secret shared with the receiver. */
  readonly secret: string;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

/**
 * Generic webhooks signed per the Standard Webhooks spec. `webhook-id` is the alert's delivery id, the
 * same on every retry, so a receiver that dedupes by it sees each alert once.
 */
export class WebhookChannel implements Channel {
  readonly name = 'webhook';
  readonly paced = false;

  constructor(private readonly options: WebhookChannelOptions) {}

  async send(delivery: Delivery): Promise<SendResult> {
    const now = this.options.now ?? Date.now;
    const timestamp = Math.floor(now() / 1000);
    const body = JSON.stringify({
      type: 'pql.qualified',
      timestamp: new Date(now()).toISOString(),
      data: delivery.alert,
    });
    const url = delivery.target === '' ? this.options.url : delivery.target;
    return postJson(
      url,
      body,
      {
        'webhook-id': delivery.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandardWebhook(this.options.secret, delivery.id, timestamp, body),
      },
      this.options.timeoutMs ?? 10_000,
      now,
    );
  }
}
