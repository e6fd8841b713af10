import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { comparableTimelines } from '../test-support/comparable-timelines.js';
import { AnalysisInputError, loadAnalysisData } from './load-analysis-data.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-02-01T00:00:00Z');
const at = (days: number): string => new Date(T0 + days * DAY).toISOString();

function exportOf(lines: readonly (Record<string, unknown> | string)[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'pql-duckdb-reader-'));
  let n = 0;
  const text = lines
    .map((line) => (typeof line === 'string' ? line : JSON.stringify({ messageId: `m${++n}`, ...line })))
    .join('\n');
  writeFileSync(join(dir, 'events.ndjson'), `${text}\n`);
  return dir;
}

/** Identity's cases: pending anonymous events, links by alias and by both ids, switches, context.groupId. */
const IDENTITY_WORLD = [
  // An anonymous visitor browses, then signs up as u1 (alias) and joins acc_a; created_at as epoch ms.
  { type: 'page', anonymousId: 'anon1', name: 'Pricing', timestamp: at(0.1) },
  { type: 'alias', previousId: 'anon1', userId: 'u1', timestamp: at(0.2) },
  { type: 'group', userId: 'u1', groupId: 'acc_a', timestamp: at(0.3), traits: { created_at: T0 } },
  { type: 'track', userId: 'u1', event: 'Project Created', timestamp: at(1) },
  // u1 moves to acc_b on day 5: events after it are acc_b's, unless they name their group.
  { type: 'group', userId: 'u1', groupId: 'acc_b', timestamp: at(5), traits: { created_at: at(4) } },
  { type: 'track', userId: 'u1', event: 'Workflow Run', timestamp: at(6) },
  { type: 'track', userId: 'u1', event: 'Workflow Run', timestamp: at(6.5), context: { groupId: 'acc_a' } },
  // u2 is first seen with both ids (a link), acts before joining: attributed to the first account joined.
  { type: 'track', userId: 'u2', anonymousId: 'anon2', event: 'Invite Sent', timestamp: at(2) },
  { type: 'page', anonymousId: 'anon2', name: 'Docs', timestamp: at(2.5) },
  { type: 'group', userId: 'u2', groupId: 'acc_a', timestamp: at(3) },
  // A user who never joins: unattributed. A track without an event: rejected.
  { type: 'track', userId: 'loner', event: 'Project Created', timestamp: at(1) },
  { type: 'track', userId: 'u1', timestamp: at(2) },
  // An alias naming a group makes no event of that account; behaviour after the 30-day window is cut.
  { type: 'alias', previousId: 'anon9', userId: 'u9', timestamp: at(3), context: { groupId: 'acc_0' } },
  { type: 'track', userId: 'u2', event: 'Workflow Run', timestamp: at(40) },
];

describe('the DuckDB export reader', () => {
  it('attributes by the identity rules: pending events, links, account switches, context.groupId', async () => {
    const dir = exportOf(IDENTITY_WORLD);
    const data = await loadAnalysisData({ exportDir: dir }, { reader: 'duckdb' });
    expect(data.load).toMatchObject({
      reader: 'duckdb',
      events: 13,
      rejected: 1,
      unattributed: 1,
      warnings: [],
    });
    const [a, b] = comparableTimelines(data);
    expect(a).toMatchObject({
      accountId: 'acc_a',
      signupAt: T0,
      events: [
        `${T0 + 0.1 * DAY} page:Pricing`,
        `${T0 + 1 * DAY} event:Project Created`,
        `${T0 + 2 * DAY} event:Invite Sent`,
        `${T0 + 2.5 * DAY} page:Docs`,
        `${T0 + 6.5 * DAY} event:Workflow Run`,
      ],
      userFirst: [T0 + 0.1 * DAY, T0 + 2 * DAY],
    });
    expect(b).toMatchObject({
      accountId: 'acc_b',
      signupAt: T0 + 4 * DAY,
      events: [`${T0 + 6 * DAY} event:Workflow Run`],
    });
    // The streaming reader, which replays identity as live ingest does, agrees on this time-ordered file.
    const byLine = await loadAnalysisData({ exportDir: dir }, { reader: 'node' });
    expect(comparableTimelines(data)).toEqual(comparableTimelines(byLine));
    expect([byLine.load.events, byLine.load.rejected, byLine.load.unattributed]).toEqual([13, 1, 1]);
  });

  it('leaves a file DuckDB cannot read to the line reader, which reports each bad line', async () => {
    const dir = exportOf([...IDENTITY_WORLD.slice(0, 4), 'not json', { type: 'track', userId: 'u1', event: 'X', timestamp: 'yesterday' }]); // prettier-ignore
    const data = await loadAnalysisData({ exportDir: dir });
    expect(data.load.reader).toBe('node');
    expect(data.load.rejected).toBe(2);
    expect(data.load.warnings.join('\n')).toMatch(
      /DuckDB could not read .*events\.ndjson.*; read with the node reader instead/,
    );
    await expect(loadAnalysisData({ exportDir: dir }, { reader: 'duckdb' })).rejects.toBeInstanceOf(
      AnalysisInputError,
    );
  });
});
