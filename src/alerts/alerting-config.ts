import type { Definition } from '../core/definitions/definition.js';
import type { Rep } from '../core/routing/owner-router.js';
import type { Channel } from '../channels/channel.js';
import { SlackApiChannel } from '../channels/slack/slack-api-channel.js';
import { SlackWebhookChannel } from '../channels/slack/slack-webhook-channel.js';
import { WebhookChannel } from '../channels/webhook/webhook-channel.js';
import type { ChannelPlan } from './alert-planner.js';

/** Where alerts can go, from the `alerts:` block of `pql.yaml` and the environment (`loadAlertingSettings`). */
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
  /** Frequency cap: at most one alert per account within this many ms, across definitions (`account_cap`). */
  readonly accountCapMs?: number | undefined;
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
        'a webhook URL is set (alerts.webhook_url or PQL_WEBHOOK_URL) but no secret (alerts.webhook_secret or PQL_WEBHOOK_SECRET): webhooks are always signed (a whsec_ secret)',
      );
    }
    channels.set('webhook', new WebhookChannel({ url: config.webhookUrl, secret: config.webhookSecret }));
  }
  return channels;
}

/** The names of the configured channels ('slack-webhook', 'slack-api', 'webhook'): a map or a set of them. */
export interface ConfiguredChannels {
  has(name: string): boolean;
}

/**
 * Chooses channels per definition from its `route.channel`: `slack:#name` (Web API to that channel, or the
 * incoming webhook), `slack:dm` (a DM to the rep, else the default channel), `webhook`; without one, every
 * configured channel (Slack as a DM to the rep when possible).
 */
export function channelPlan(channels: ConfiguredChannels): ChannelPlan {
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

/** A definition whose `route.channel` no configured channel serves: its PQLs are detected but not alerted. */
export interface RouteWarning {
  readonly definitionId: string;
  readonly channel: string;
  readonly message: string;
}

/** The definitions whose `route.channel` plans no delivery with these channels (checked at startup). */
export function routeWarnings(
  definitions: readonly Definition[],
  channels: ConfiguredChannels,
): RouteWarning[] {
  const plan = channelPlan(channels);
  return definitions.flatMap((definition) => {
    const channel = definition.route?.channel;
    if (channel === undefined || plan(definition, undefined).length > 0) return [];
    const kind = channel.split(':', 1)[0];
    const missing =
      kind === 'slack'
        ? 'no Slack channel is configured (alerts.slack_bot_token or alerts.slack_webhook_url in pql.yaml, PQL_SLACK_BOT_TOKEN or PQL_SLACK_WEBHOOK_URL)'
        : kind === 'webhook'
          ? 'no webhook is configured (alerts.webhook_url and alerts.webhook_secret in pql.yaml, PQL_WEBHOOK_URL and PQL_WEBHOOK_SECRET)'
          : `"${kind}" is not a channel (use slack:#channel, slack:dm or webhook)`;
    return [
      {
        definitionId: definition.id,
        channel,
        message: `definition ${definition.id} routes to ${channel}, but ${missing}: its PQLs get no alert`,
      },
    ];
  });
}
