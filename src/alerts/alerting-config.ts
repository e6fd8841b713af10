import type { Definition } from '../core/definitions/definition.js';
import { parseDuration } from '../core/definitions/duration.js';
import type { Rep } from '../core/routing/owner-router.js';
import type { Channel } from '../channels/channel.js';
import { SlackApiChannel } from '../channels/slack/slack-api-channel.js';
import { SlackWebhookChannel } from '../channels/slack/slack-webhook-channel.js';
import { WebhookChannel } from '../channels/webhook/webhook-channel.js';
import type { ChannelPlan } from './alert-planner.js';

/** Where alerts can go, from `pql.yaml` or the environment. */
export interface AlertingConfig {
  readonly slackWebhookUrl?: string | undefined;
  readonly slackBotToken?: string | undefined;
  /** A non-default Slack API base (PQL_SLACK_API_URL). */
  readonly slackApiUrl?: string | undefined;
  /** Channel for Web API posts when the rep has no Slack user id, e.g. "#pql". */
  readonly slackChannel?: string | undefined;
  readonly webhookUrl?: string | undefined;
  /** `whsec_...` */
  readonly webhookSecret?: string | undefined;
  readonly dashboardUrl?: string | undefined;
  /** Frequency cap: at most one alert per account within this many ms, across definitions (PQL_ALERT_ACCOUNT_CAP). */
  readonly accountCapMs?: number | undefined;
}

/** Reads PQL_SLACK_WEBHOOK_URL, PQL_SLACK_BOT_TOKEN, PQL_SLACK_API_URL, PQL_SLACK_CHANNEL, PQL_WEBHOOK_URL, PQL_WEBHOOK_SECRET, PQL_DASHBOARD_URL, PQL_ALERT_ACCOUNT_CAP (a duration like "1d"). */
export function alertingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AlertingConfig {
  const cap = env['PQL_ALERT_ACCOUNT_CAP'];
  let accountCapMs: number | undefined;
  if (cap !== undefined && cap !== '') {
    const parsed = parseDuration(cap);
    if (!parsed.ok)
      throw new Error(`PQL_ALERT_ACCOUNT_CAP: expected a duration like "1d" or "12h", got "${cap}"`);
    accountCapMs = parsed.value;
  }
  return {
    accountCapMs,
    slackWebhookUrl: env['PQL_SLACK_WEBHOOK_URL'],
    slackBotToken: env['PQL_SLACK_BOT_TOKEN'],
    slackApiUrl: env['PQL_SLACK_API_URL'],
    slackChannel: env['PQL_SLACK_CHANNEL'],
    webhookUrl: env['PQL_WEBHOOK_URL'],
    webhookSecret: env['PQL_WEBHOOK_SECRET'],
    dashboardUrl: env['PQL_DASHBOARD_URL'],
  };
}

/** Builds the configured channels, by name. A webhook URL without a secret is a configuration error. */
export function createChannels(config: AlertingConfig): Map<string, Channel> {
  const channels = new Map<string, Channel>();
  if (config.slackWebhookUrl !== undefined)
    channels.set('slack-webhook', new SlackWebhookChannel(config.slackWebhookUrl));
  if (config.slackBotToken !== undefined) {
    channels.set(
      'slack-api',
      new SlackApiChannel({
        token: config.slackBotToken,
        ...(config.slackApiUrl === undefined ? {} : { apiUrl: config.slackApiUrl }),
        ...(config.slackChannel === undefined ? {} : { defaultChannel: config.slackChannel }),
      }),
    );
  }
  if (config.webhookUrl !== undefined) {
    if (config.webhookSecret === undefined) {
      throw new Error(
        'PQL_WEBHOOK_URL is set but PQL_WEBHOOK_SECRET is not: webhooks are always signed (a whsec_ secret)',
      );
    }
    channels.set('webhook', new WebhookChannel({ url: config.webhookUrl, secret: config.webhookSecret }));
  }
  return channels;
}

/**
 * Chooses channels per definition from its `route.channel`: `slack:#name` (Web API to that channel, or the
 * incoming webhook), `slack:dm` (a DM to the rep, else the default channel), `webhook`; without one, every
 * configured channel (Slack as a DM to the rep when possible).
 */
export function channelPlan(channels: ReadonlyMap<string, Channel>): ChannelPlan {
  const slack = (target: string, rep: Rep | undefined): { channel: string; target: string }[] => {
    if (channels.has('slack-api')) {
      if (target === 'dm' || target === '') return [{ channel: 'slack-api', target: rep?.slackUserId ?? '' }];
      return [{ channel: 'slack-api', target }];
    }
    return channels.has('slack-webhook') ? [{ channel: 'slack-webhook', target: '' }] : [];
  };
  return (definition: Definition, rep: Rep | undefined) => {
    const wanted = definition.route?.channel;
    if (wanted !== undefined) {
      const [kind, target = ''] = wanted.split(':', 2);
      if (kind === 'slack') return slack(target, rep);
      if (kind === 'webhook') return channels.has('webhook') ? [{ channel: 'webhook', target: '' }] : [];
      return [];
    }
    return [...slack('', rep), ...(channels.has('webhook') ? [{ channel: 'webhook', target: '' }] : [])];
  };
}
