import { ErrorCode, WebClient, type WebAPICallError } from '@slack/web-api';
import type { Alert } from '../../core/alerts/alert.js';
import { renderSlackDigest, renderSlackMessage, type SlackMessage } from '../../core/alerts/slack-message.js';
import type { Channel, Delivery, SendResult } from '../channel.js';

/** Options of the Slack Web API channel. */
export interface SlackApiChannelOptions {
  readonly token: string;
  /** API base for a non-default Slack (PQL_SLACK_API_URL), e.g. a local receiver in tests. */
  readonly apiUrl?: string;
  /** Channel used when the alert has no target (no rep with a Slack user id). */
  readonly defaultChannel?: string;
  readonly timeoutMs?: number;
}

/**
 * Slack Web API `chat.postMessage` with a bot token: to a channel, or as a DM to the rep's Slack user id.
 * The client's own retries are off: the delivery worker owns retries, backoff and Retry-After.
 */
export class SlackApiChannel implements Channel {
  readonly name = 'slack-api';
  readonly paced = true;
  private readonly client: WebClient;

  constructor(private readonly options: SlackApiChannelOptions) {
    this.client = new WebClient(options.token, {
      ...(options.apiUrl === undefined
        ? {}
        : { slackApiUrl: options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/` }),
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.timeoutMs ?? 10_000,
    });
  }

  async send(delivery: Delivery): Promise<SendResult> {
    return this.post(delivery.target, renderSlackMessage(delivery.alert));
  }

  async sendDigest(alerts: readonly Alert[], target: string): Promise<SendResult> {
    return this.post(target, renderSlackDigest(alerts));
  }

  private async post(target: string, message: SlackMessage): Promise<SendResult> {
    const channel = target !== '' ? target : this.options.defaultChannel;
    if (channel === undefined) return { kind: 'rejected', error: 'no Slack channel or user to send to' };
    try {
      await this.client.chat.postMessage({
        channel,
        text: message.text,
        blocks: [...message.blocks] as never,
      });
      return { kind: 'delivered' };
    } catch (error) {
      const e = error as WebAPICallError & { retryAfter?: number; statusCode?: number };
      if (e.code === ErrorCode.RateLimitedError) {
        return { kind: 'retry', error: 'slack: ratelimited', retryAfterMs: (e.retryAfter ?? 1) * 1000 };
      }
      if (e.code === ErrorCode.PlatformError) {
        const reason = (e as { data?: { error?: string } }).data?.error ?? 'error';
        return { kind: 'rejected', error: `slack: ${reason}` };
      }
      if (e.code === ErrorCode.HTTPError) {
        const status = e.statusCode ?? 0;
        if (status === 410) return { kind: 'gone', error: `slack: HTTP ${status}` };
        if (status >= 400 && status < 500 && status !== 408)
          return { kind: 'rejected', error: `slack: HTTP ${status}` };
      }
      return { kind: 'retry', error: `slack: ${e.message}` };
    }
  }
}
