/**
 * Alert channels and routing rules of a process, from the `alerts:` and `routing:` blocks of `pql.yaml`.
 * Environment variables override `alerts:` key by key (an empty variable counts as unset), as in
 * server-config.ts. Secret values (tokens, webhook URLs and secrets) never appear in an error message.
 */
import type { AlertingConfig } from '../alerts/alerting-config.js';
import { parseDuration } from '../core/definitions/duration.js';
import { closest, describeValue } from '../core/definitions/schema.js';
import type { Issue } from '../core/issues.js';
import { DEFAULT_TERRITORIES } from '../core/routing/default-territories.js';
import type { RoutingRules } from '../core/routing/owner-router.js';
import { routingRulesSchema } from '../core/routing/routing-rules-schema.js';
import { readConfigFile, resolveConfigPath, ServerConfigError } from './server-config.js';

/** Where alerts go and the global rules that pick who gets them. */
export interface AlertingSettings {
  readonly alerting: AlertingConfig;
  /** `routing:` of pql.yaml; territories default to the built-in NA, EMEA and APAC, segments to none. */
  readonly routing: RoutingRules;
}

/** Where a value came from: an environment variable, or a key of the configuration file. */
interface Origin {
  readonly source: string;
  readonly field: string;
}

type Read<T> = (value: unknown, origin: Origin) => T;

/** The keys of `alerts:`, the variable overriding each, and how its value is read. */
const ALERT_KEYS = {
  slack_webhook_url: { env: 'PQL_SLACK_WEBHOOK_URL', read: readUrl(true) },
  slack_bot_token: { env: 'PQL_SLACK_BOT_TOKEN', read: readText(true) },
  slack_api_url: { env: 'PQL_SLACK_API_URL', read: readUrl(false) },
  slack_channel: { env: 'PQL_SLACK_CHANNEL', read: readText(false) },
  webhook_url: { env: 'PQL_WEBHOOK_URL', read: readUrl(true) },
  webhook_secret: { env: 'PQL_WEBHOOK_SECRET', read: readText(true) },
  dashboard_url: { env: 'PQL_DASHBOARD_URL', read: readUrl(false) },
  account_cap: { env: 'PQL_ALERT_ACCOUNT_CAP', read: readDuration },
} as const;

type AlertKey = keyof typeof ALERT_KEYS;

/**
 * Loads the alerting settings of `pql serve`, its workers and `pql import --alert`: the file given
 * (`--config`), else `pql.yaml` in `cwd` when present, then the environment. Throws a `ServerConfigError`
 * naming the file or variable, the field and what was expected.
 */
export function loadAlertingSettings(
  configFlag: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd = process.cwd(),
): AlertingSettings {
  const path = resolveConfigPath(configFlag, cwd);
  const file = path === undefined ? {} : readConfigFile(path);
  return readAlertingSettings(file, path ?? 'pql.yaml', env);
}

/** Reads the `alerts:` and `routing:` blocks of an already parsed configuration file, then the environment. */
export function readAlertingSettings(
  file: Readonly<Record<string, unknown>>,
  fileName: string,
  env: Readonly<Record<string, string | undefined>>,
): AlertingSettings {
  return {
    alerting: readAlerts(file['alerts'], fileName, env),
    routing: readRouting(file['routing'], fileName),
  };
}

function readAlerts(
  block: unknown,
  fileName: string,
  env: Readonly<Record<string, string | undefined>>,
): AlertingConfig {
  // `alerts:` with every key commented out is YAML null: the same as no block.
  const written = block === undefined || block === null ? {} : block;
  if (typeof written !== 'object' || Array.isArray(written)) {
    throw new ServerConfigError(
      fileName,
      'alerts',
      `expected a mapping like { slack_webhook_url: ..., webhook_url: ... }, got ${describeValue(written)}`,
    );
  }
  const fields = written as Readonly<Record<string, unknown>>;
  const keys = Object.keys(ALERT_KEYS);
  for (const key of Object.keys(fields)) {
    if (keys.includes(key)) continue;
    const suggestion = closest(key, keys);
    throw new ServerConfigError(
      fileName,
      `alerts.${key}`,
      suggestion === undefined
        ? `unknown key; expected one of ${keys.join(', ')}`
        : `unknown key; did you mean "${suggestion}"?`,
    );
  }
  const origins = new Map<AlertKey, Origin>();
  const pick = <K extends AlertKey>(key: K): ReturnType<(typeof ALERT_KEYS)[K]['read']> | undefined => {
    const { env: envName, read } = ALERT_KEYS[key];
    const fromEnv = env[envName];
    let origin: Origin;
    let value: unknown;
    if (fromEnv !== undefined && fromEnv !== '') {
      origin = { source: envName, field: '' };
      value = fromEnv;
    } else if (fields[key] !== undefined) {
      origin = { source: fileName, field: `alerts.${key}` };
      value = fields[key];
      if (value === null)
        throw new ServerConfigError(
          origin.source,
          origin.field,
          `no value; quote a value that starts with "#" (slack_channel: '#pql'): an unquoted # starts a YAML comment`,
        );
    } else return undefined;
    origins.set(key, origin);
    return read(value, origin) as ReturnType<(typeof ALERT_KEYS)[K]['read']>;
  };
  const config: AlertingConfig = {
    slackWebhookUrl: pick('slack_webhook_url'),
    slackBotToken: pick('slack_bot_token'),
    slackApiUrl: pick('slack_api_url'),
    slackChannel: pick('slack_channel'),
    webhookUrl: pick('webhook_url'),
    webhookSecret: pick('webhook_secret'),
    dashboardUrl: pick('dashboard_url'),
    accountCapMs: pick('account_cap'),
  };
  const webhookUrl = origins.get('webhook_url');
  if (webhookUrl !== undefined && config.webhookSecret === undefined) {
    throw new ServerConfigError(
      webhookUrl.source,
      webhookUrl.field,
      `a webhook URL is set but no secret: set alerts.webhook_secret in ${fileName} or PQL_WEBHOOK_SECRET (a whsec_ secret); webhooks are always signed`,
    );
  }
  return config;
}

function readRouting(block: unknown, fileName: string): RoutingRules {
  if (block === undefined || block === null) return { territories: DEFAULT_TERRITORIES, segments: [] };
  const issues: Issue[] = [];
  const written = routingRulesSchema.validate(block, 'routing', issues);
  if (written === undefined || issues.length > 0) throw configIssues(fileName, issues);
  return { territories: written.territories ?? DEFAULT_TERRITORIES, segments: written.segments ?? [] };
}

/** One error for every issue of a block: the first names its field, each further one is a line of its own. */
function configIssues(fileName: string, issues: readonly Issue[]): ServerConfigError {
  const [first, ...rest] = issues;
  const more = rest.map((issue) => `\n${fileName}: ${issue.path}: ${issue.message}`).join('');
  return new ServerConfigError(fileName, first?.path ?? 'routing', `${first?.message ?? 'invalid'}${more}`);
}

/** A non-empty string; a secret's value is never echoed back. */
function readText(secret: boolean): Read<string> {
  return (value, origin) => {
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    const got = secret ? describeSecret(value) : describeValue(value);
    throw new ServerConfigError(origin.source, origin.field, `expected a non-empty string, got ${got}`);
  };
}

/** An http(s) URL; a secret one (Slack incoming webhooks carry their token in the path) is never echoed back. */
function readUrl(secret: boolean): Read<string> {
  return (value, origin) => {
    const text = typeof value === 'string' ? value.trim() : undefined;
    let url: URL | undefined;
    try {
      url = text === undefined ? undefined : new URL(text);
    } catch {
      url = undefined;
    }
    if (text !== undefined && (url?.protocol === 'https:' || url?.protocol === 'http:')) return text;
    const got = secret ? describeSecret(value) : describeValue(value);
    throw new ServerConfigError(
      origin.source,
      origin.field,
      `expected an http:// or https:// URL, got ${got}`,
    );
  };
}

/** Describes a secret's value by its kind only. */
function describeSecret(value: unknown): string {
  if (typeof value === 'string')
    return value.trim() === ''
      ? 'an empty string'
      : 'a string that is not one (not shown: it may be a secret)';
  return typeof value === 'number' ? 'a number' : describeValue(value);
}

function readDuration(value: unknown, origin: Origin): number {
  const parsed = parseDuration(value);
  if (parsed.ok) return parsed.value;
  throw new ServerConfigError(
    origin.source,
    origin.field,
    `expected a duration like "1d" or "12h", got ${describeValue(value)}`,
  );
}
