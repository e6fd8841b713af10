import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TERRITORIES } from '../core/routing/default-territories.js';
import { loadAlertingSettings } from './alerting-settings.js';
import { ServerConfigError } from './server-config.js';

const SECRET = `whsec_${Buffer.from('alerting-settings-test-secret-32b').toString('base64')}`;
const SLACK_HOOK = 'https://hooks.slack.com/services/T000/B000/very-secret-path';

describe('loadAlertingSettings', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pql-alerting-settings-'));
    file = join(dir, 'pql.yaml');
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const load = (yaml: string | undefined, env: Record<string, string> = {}) => {
    if (yaml !== undefined) writeFileSync(file, yaml);
    return loadAlertingSettings(undefined, env, dir);
  };

  it('without pql.yaml: no channels, the default territories and no segments', () => {
    expect(load(undefined)).toStrictEqual({
      alerting: {
        slackWebhookUrl: undefined,
        slackBotToken: undefined,
        slackApiUrl: undefined,
        slackChannel: undefined,
        webhookUrl: undefined,
        webhookSecret: undefined,
        dashboardUrl: undefined,
        accountCapMs: undefined,
      },
      routing: { territories: DEFAULT_TERRITORIES, segments: [] },
    });
  });

  it('reads the alerts block of pql.yaml, and every environment variable overrides its key', () => {
    const yaml = [
      'alerts:',
      `  slack_webhook_url: ${SLACK_HOOK}`,
      '  slack_bot_token: xoxb-file',
      '  slack_api_url: http://127.0.0.1:9/api/',
      "  slack_channel: '#pql'",
      '  webhook_url: https://crm.example.com/pql',
      `  webhook_secret: ${SECRET}`,
      '  dashboard_url: https://pql.example.com',
      '  account_cap: 1d',
      '',
    ].join('\n');
    expect(load(yaml).alerting).toStrictEqual({
      slackWebhookUrl: SLACK_HOOK,
      slackBotToken: 'xoxb-file',
      slackApiUrl: 'http://127.0.0.1:9/api/',
      slackChannel: '#pql',
      webhookUrl: 'https://crm.example.com/pql',
      webhookSecret: SECRET,
      dashboardUrl: 'https://pql.example.com',
      accountCapMs: 86_400_000,
    });
    const env = {
      PQL_SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T1/B1/env',
      PQL_SLACK_BOT_TOKEN: 'xoxb-env',
      PQL_SLACK_API_URL: 'http://127.0.0.1:10/api/',
      PQL_SLACK_CHANNEL: '#sales',
      PQL_WEBHOOK_URL: 'https://other.example.com/hook',
      PQL_WEBHOOK_SECRET: 'whsec_ZW52',
      PQL_DASHBOARD_URL: 'https://dash.example.com',
      PQL_ALERT_ACCOUNT_CAP: '12h',
    };
    expect(load(yaml, env).alerting).toStrictEqual({
      slackWebhookUrl: 'https://hooks.slack.com/services/T1/B1/env',
      slackBotToken: 'xoxb-env',
      slackApiUrl: 'http://127.0.0.1:10/api/',
      slackChannel: '#sales',
      webhookUrl: 'https://other.example.com/hook',
      webhookSecret: 'whsec_ZW52',
      dashboardUrl: 'https://dash.example.com',
      accountCapMs: 43_200_000,
    });
    // An empty variable counts as unset: the file's value stands.
    expect(load(yaml, { PQL_SLACK_BOT_TOKEN: '' }).alerting.slackBotToken).toBe('xoxb-file');
  });

  it('reads the routing block: territories replace the defaults, segments are added, either may be left out', () => {
    const yaml = [
      'routing:',
      '  territories:',
      '    - { territory: DACH, countries: [de, AT, CH] }',
      '  segments:',
      '    - { name: enterprise, min_employees: 500, owners: [owner-1, owner-2] }',
      '    - { name: smb, max_employees: 49, owners: [owner-3] }',
      '',
    ].join('\n');
    expect(load(yaml).routing).toStrictEqual({
      territories: [{ territory: 'DACH', countries: ['DE', 'AT', 'CH'] }],
      segments: [
        { name: 'enterprise', minEmployees: 500, maxEmployees: undefined, owners: ['owner-1', 'owner-2'] },
        { name: 'smb', minEmployees: undefined, maxEmployees: 49, owners: ['owner-3'] },
      ],
    });
    const segmentsOnly = 'routing:\n  segments: [{ name: big, min_employees: 500, owners: [o1] }]\n';
    expect(load(segmentsOnly).routing.territories).toBe(DEFAULT_TERRITORIES);
  });

  it('names the file, the path and what was expected for a bad routing rule, every problem on its own line', () => {
    writeFileSync(
      file,
      'routing:\n  segments:\n    - { name: enterprise, min_employees: many, owners: [o1] }\n',
    );
    expect(() => load(undefined)).toThrow(
      new ServerConfigError(file, 'routing.segments[0].min_employees', 'expected a whole number, got "many"'),
    );
    expect(() => load(undefined)).toThrow(
      `${file}: routing.segments[0].min_employees: expected a whole number, got "many"`,
    );
    writeFileSync(
      file,
      [
        'routing:',
        '  territories: [{ territory: EMEA, countries: [] }]',
        '  segmets: []',
        '  segments: [{ name: x, owners: [o1] }]',
        '',
      ].join('\n'),
    );
    expect(() => load(undefined)).toThrow(
      [
        `${file}: routing.segmets: unknown key "segmets"; did you mean "segments"?`,
        `${file}: routing.territories[0].countries: expected at least 1 item, got 0`,
        `${file}: routing.segments[0]: segment "x" needs min_employees, max_employees or both (an employee range)`,
      ].join('\n'),
    );
    expect(() => load('routing: [EMEA]\n')).toThrow(
      `${file}: routing: expected a mapping with territories and segments, got a list`,
    );
  });

  it('names the file or variable of a bad alerts setting, never echoing a secret', () => {
    expect(() => load('alerts:\n  slack_webhok_url: https://x.example\n')).toThrow(
      `${file}: alerts.slack_webhok_url: unknown key; did you mean "slack_webhook_url"?`,
    );
    expect(() => load('alerts:\n  slack_channel: #pql\n')).toThrow(
      `${file}: alerts.slack_channel: no value; quote a value that starts with "#"`,
    );
    expect(() => load('alerts:\n  account_cap: 1 day\n')).toThrow(
      `${file}: alerts.account_cap: expected a duration like "1d" or "12h", got "1 day"`,
    );
    expect(() => load('alerts: {}\n', { PQL_ALERT_ACCOUNT_CAP: 'soon' })).toThrow(
      'PQL_ALERT_ACCOUNT_CAP: expected a duration like "1d" or "12h", got "soon"',
    );
    expect(() => load('alerts:\n  dashboard_url: pql.example.com\n')).toThrow(
      `${file}: alerts.dashboard_url: expected an http:// or https:// URL, got "pql.example.com"`,
    );
    let error: unknown;
    try {
      load('alerts:\n  slack_webhook_url: hooks.slack.com/services/T0/B0/leaked-secret\n');
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ServerConfigError);
    expect((error as Error).message).toMatch(/alerts\.slack_webhook_url: expected an http/);
    expect((error as Error).message).not.toContain('leaked-secret');
    expect(() => load('alerts:\n  webhook_url: https://crm.example.com/pql\n')).toThrow(
      /alerts\.webhook_url: a webhook URL is set but no secret: set alerts\.webhook_secret in .* or PQL_WEBHOOK_SECRET/,
    );
    // The secret may come from the environment while the URL is in the file.
    expect(
      load('alerts:\n  webhook_url: https://crm.example.com/pql\n', { PQL_WEBHOOK_SECRET: SECRET }).alerting,
    ).toMatchObject({ webhookUrl: 'https://crm.example.com/pql', webhookSecret: SECRET });
  });

  it('reads the file given with --config instead of ./pql.yaml', () => {
    writeFileSync(file, 'alerts:\n  slack_channel: "#cwd"\n');
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'alerts:\n  slack_channel: "#other"\n');
    expect(loadAlertingSettings(other, {}, dir).alerting.slackChannel).toBe('#other');
  });
});
