import { describe, expect, it } from 'vitest';
import { createEngine } from '../engine/create-engine.js';
import type { QualifiedTransition } from '../engine/transition.js';
import { DAY, HOUR, T0, definition, group, track } from '../../test-support/builders.js';
import { buildAlert, type AlertInput } from './alert.js';
import { renderSlackMessage, SLACK_LIMITS, truncate } from './slack-message.js';

const def = definition({
  id: 'activated',
  fit: { all: [{ trait: 'employees', gte: 10 }] },
  signals: {
    first_call: { event: 'API Call Made' },
    volume: { event: 'Events Processed', sum: 'properties.count', gte: 1000, window: '30d' },
  },
  qualify: { all: ['first_call', 'volume'] },
  next_step: 'Offer a walkthrough to {{account.name}}: {{volume.value}} events',
});

function qualified(): QualifiedTransition {
  const engine = createEngine({ definitions: [def] });
  engine.ingest(group('a1', T0, { employees: 40, name: 'Acme', domain: 'acme.io' }));
  engine.ingest(track('a1', 'API Call Made', T0 + HOUR));
  const out = engine.ingest(track('a1', 'Events Processed', T0 + DAY, { properties: { count: 1200 } }));
  const t = out[0];
  if (t?.kind !== 'qualified') throw new Error('expected a PQL');
  return t;
}

function input(overrides: Partial<AlertInput> = {}): AlertInput {
  return {
    pqlId: 'activated:a1:1',
    transition: qualified(),
    definitionName: 'Activated workspace',
    nextStepTemplate: def.nextStep,
    detectedAt: T0 + DAY + 5,
    assignment: { ownerId: 'o1', reason: 'crm-owner', detail: 'CRM owner Ana' },
    rep: {
      ownerId: 'o1',
      name: 'Ana',
      email: 'ana@pql.dev',
      slackUserId: 'U123',
      territory: 'NA',
      weight: 1,
      away: false,
    },
    traits: { name: 'Acme', domain: 'acme.io', employees: 40, plan: 'free' },
    signupAt: T0,
    lastSeenAt: T0 + DAY,
    people: [
      { userId: 'u2', email: undefined, name: 'Bo', events: 3 },
      { userId: 'u1', email: 'kim@acme.io', name: 'Kim', events: 9 },
    ],
    dashboardUrl: 'http://localhost:7070/',
    ...overrides,
  };
}

describe('alerts', () => {
  it('builds the alert once: why, fit, people most active first, history, next step and the account link', () => {
    const alert = buildAlert(input());
    expect(alert).toMatchObject({
      id: 'activated:a1:1',
      accountName: 'Acme',
      domain: 'acme.io',
      qualifiedAt: T0 + DAY,
      owner: { ownerId: 'o1', name: 'Ana', slackUserId: 'U123', reason: 'CRM owner Ana' },
      nextStep: 'Offer a walkthrough to Acme: 1,200 events',
      accountUrl: 'http://localhost:7070/#/accounts/a1',
    });
    expect(alert.why.map((c) => [c.label, c.value])).toEqual([
      ['first_call', 1],
      ['volume', 1200],
    ]);
    expect(alert.fit.map((c) => c.label)).toEqual(['employees >= 10']);
    expect(alert.people.map((p) => p.userId)).toEqual(['u1', 'u2']);
    expect(alert.history.milestones).toEqual([{ label: 'first_call', at: T0 + HOUR }]);
  });

  it('renders Block Kit with a header, the reasons, fields, a button and a text fallback', () => {
    const message = renderSlackMessage(buildAlert(input()));
    expect(message.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'New PQL: Acme (acme.io)' },
    });
    expect(message.blocks.map((b) => b['type'])).toEqual([
      'header',
      'section',
      'section',
      'section',
      'section',
      'section',
      'section',
      'section',
      'context',
      'actions',
    ]);
    expect(JSON.stringify(message.blocks)).toContain('<@U123>');
    expect(JSON.stringify(message.blocks)).toContain('*volume*: 1,200');
    expect(message.text).toBe(
      'New PQL: Acme (acme.io) — Activated workspace; owner Ana. Next: Offer a walkthrough to Acme: 1,200 events',
    );
  });

  it('stays inside Slack limits: long texts are cut and marked', () => {
    const long = 'x'.repeat(5000);
    const message = renderSlackMessage(buildAlert(input({ nextStepTemplate: long, traits: { name: long } })));
    for (const block of message.blocks) {
      const text = (block['text'] as { text?: string } | undefined)?.text;
      if (text !== undefined) expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    }
    expect((message.blocks[0]?.['text'] as { text: string }).text).toHaveLength(SLACK_LIMITS.headerText);
    expect(JSON.stringify(message.blocks)).toContain('…(truncated)');
    expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(truncate('abc', 3)).toBe('abc');
  });
});
