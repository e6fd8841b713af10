import type { Alert } from '../../core/alerts/alert.js';
import { renderSlackDigest, renderSlackMessage } from '../../core/alerts/slack-message.js';
import type { Channel, Delivery, SendResult } from '../channel.js';
import { postJson } from '../channel.js';

/** Slack incoming webhook: posts the Block Kit message to the webhook's channel. */
export class SlackWebhookChannel implements Channel {
  readonly name = 'slack-webhook';
  readonly paced = true;

  constructor(
    private readonly url: string,
    private readonly timeoutMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async send(delivery: Delivery): Promise<SendResult> {
    const message = renderSlackMessage(delivery.alert);
    return postJson(this.url, JSON.stringify(message), {}, this.timeoutMs, this.now);
  }
  async sendDigest(alerts: readonly Alert[]): Promise<SendResult> {
    return postJson(this.url, JSON.stringify(renderSlackDigest(alerts)), {}, this.timeoutMs, this.now);
  }
}
