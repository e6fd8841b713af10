import type { Alert } from './alert.js';

/** Slack's limits for one message (Block Kit reference). */
export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  fields: 10,
  fieldText: 2000,
} as const;

const TRUNCATED = ' …(truncated)';

/** A Block Kit block (the subset this product sends). */
export type SlackBlock = Readonly<Record<string, unknown>>;

/** A Slack message: Block Kit blocks plus the plain-text fallback shown in notifications. */
export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

/** Cuts text to a limit, marking the cut. */
export function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - TRUNCATED.length)}${TRUNCATED}`;
}

function day(ms: number | undefined): string {
  return ms === undefined ? 'unknown' : new Date(ms).toISOString().slice(0, 10);
}

function value(v: unknown): string {
  if (v === undefined || v === null || v === '') return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString('en-US') : v.toFixed(1);
  return String(v);
}

function mrkdwn(text: string): string {
  // Slack mrkdwn control characters.
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Renders an alert as a Block Kit message within Slack's limits, with a text fallback. */
export function renderSlackMessage(alert: Alert): SlackMessage {
  const account = alert.accountName ?? alert.accountId;
  const title = `New PQL: ${account}${alert.domain === undefined ? '' : ` (${alert.domain})`}`;
  const owner =
    alert.owner.slackUserId !== undefined
      ? `<@${alert.owner.slackUserId}>`
      : (alert.owner.name ?? 'unassigned');
  const section = (text: string): SlackBlock => ({
    type: 'section',
    text: { type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.sectionText) },
  });
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, SLACK_LIMITS.headerText) } },
    section(
      `*${mrkdwn(alert.definitionName)}* (v${alert.definitionVersion}) qualified ${day(alert.qualifiedAt)} — ` +
        `owner ${owner} (${mrkdwn(alert.owner.reason)})`,
    ),
  ];
  const why = alert.why.map(
    (c) =>
      `${c.holds === true ? '✅' : '▫️'} *${mrkdwn(c.label)}*: ${value(c.value)} — ${mrkdwn(c.threshold)}`,
  );
  if (why.length > 0) blocks.push(section(`*Why*\n${why.join('\n')}`));
  if (alert.fit.length > 0) {
    blocks.push({
      type: 'section',
      fields: alert.fit.slice(0, SLACK_LIMITS.fields).map((c) => ({
        type: 'mrkdwn',
        text: truncate(`*${mrkdwn(c.label)}*\n${mrkdwn(value(c.value))}`, SLACK_LIMITS.fieldText),
      })),
    });
  }
  const h = alert.history;
  blocks.push({
    type: 'section',
    fields: [
      `*Signed up*\n${day(h.signupAt)}`,
      `*Last seen*\n${day(h.lastSeenAt)}`,
      `*Active users*\n${value(h.activeUsers)}`,
      `*Plan / MRR*\n${mrkdwn(value(h.plan))} / ${value(h.mrr)}`,
      `*Lifecycle*\n${mrkdwn(value(h.lifecycleStage))}`,
      `*MQL*\n${mrkdwn(value(h.mqlAt))}`,
    ].map((text) => ({ type: 'mrkdwn', text })),
  });
  if (h.milestones.length > 0) {
    blocks.push(
      section(`*Milestones*\n${h.milestones.map((m) => `${day(m.at)} ${mrkdwn(m.label)}`).join('\n')}`),
    );
  }
  if (alert.people.length > 0) {
    const people = alert.people
      .slice(0, 10)
      .map(
        (p) =>
          `${mrkdwn(p.name ?? p.userId)}${p.email === undefined ? '' : ` <mailto:${p.email}|${mrkdwn(p.email)}>`} — ${p.events} events`,
      );
    blocks.push(section(`*People*\n${people.join('\n')}`));
  }
  if (alert.nextStep !== undefined) blocks.push(section(`*Next step*\n${mrkdwn(alert.nextStep)}`));
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `PQL ${mrkdwn(alert.id)} · detected ${new Date(alert.detectedAt).toISOString()}`,
      },
    ],
  });
  if (alert.accountUrl !== undefined) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Open account' },
          url: alert.accountUrl,
          action_id: 'open_account',
        },
      ],
    });
  }
  const limited = blocks.length > SLACK_LIMITS.blocks ? blocks.slice(0, SLACK_LIMITS.blocks) : blocks;
  const text = `${title} — ${alert.definitionName}; owner ${alert.owner.name ?? 'unassigned'}${alert.nextStep === undefined ? '' : `. Next: ${alert.nextStep}`}`;
  return { text: truncate(text, SLACK_LIMITS.sectionText), blocks: limited };
}

/** Renders a burst of alerts for one Slack target as one digest message (instead of one ping each). */
export function renderSlackDigest(alerts: readonly Alert[]): SlackMessage {
  const title = `${alerts.length} new PQLs`;
  const lines = alerts.map((a) => {
    const name = mrkdwn(a.accountName ?? a.accountId);
    const link = a.accountUrl === undefined ? name : `<${a.accountUrl}|${name}>`;
    return `• ${link} — ${mrkdwn(a.definitionName)} (${day(a.qualifiedAt)}), owner ${mrkdwn(a.owner.name ?? 'unassigned')}`;
  });
  const blocks: SlackBlock[] = [{ type: 'header', text: { type: 'plain_text', text: title } }];
  // Sections of at most 3,000 characters, within the 50-block limit (header + sections + context).
  let current = '';
  let shown = 0;
  for (const line of lines) {
    if (current.length + line.length + 1 > SLACK_LIMITS.sectionText) {
      if (blocks.length >= SLACK_LIMITS.blocks - 2) break;
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text: current } });
      current = '';
    }
    current = current === '' ? line : `${current}\n${line}`;
    shown++;
  }
  if (current !== '') blocks.push({ type: 'section', text: { type: 'mrkdwn', text: current } });
  const more = alerts.length - shown;
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text:
          more > 0
            ? `…and ${more} more (truncated); see the PQL queue`
            : 'Sent as one digest because they came in a burst',
      },
    ],
  });
  return {
    text: `${title}: ${alerts
      .slice(0, 5)
      .map((a) => a.accountName ?? a.accountId)
      .join(', ')}${alerts.length > 5 ? ', …' : ''}`,
    blocks,
  };
}
