import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runValidate } from './validate-command.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pql-validate-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (line: string) => out.push(line), err: (line: string) => err.push(line) }, out, err };
}

const BAD = `id: devtool
name: Devtool
signals:
  volume:
    event: Events Processed
    sum: properties.count
    gte: 1000
    window: 30 days
qualify: [volume, team]
`;

describe('runValidate', () => {
  it('exits 0 and prints one line per definition with its id, name and signal count', async () => {
    const { io, out, err } = capture();
    expect(await runValidate('definitions', io, { json: false })).toBe(0);
    expect(out).toStrictEqual([
      `devtool-activated: "Activated devtool workspace", 3 signals (${join('definitions', 'devtool-activated.yaml')})`,
      `team-expansion: "Team expansion", 2 signals (${join('definitions', 'team-expansion.yaml')})`,
      `workflow-builder: "Workflow builder", 2 signals (${join('definitions', 'workflow-builder.yaml')})`,
    ]);
    expect(err).toStrictEqual([]);
  });

  it('exits 2 and prints every problem with file, line and column to stderr', async () => {
    const path = join(dir, 'devtool.yaml');
    await writeFile(path, BAD, 'utf8');
    const { io, out, err } = capture();
    expect(await runValidate(path, io, { json: false })).toBe(2);
    expect(out).toStrictEqual([]);
    expect(err).toStrictEqual([
      `${path}:8:13: signals.volume.window: expected a duration like "30d", got "30 days"`,
      `${path}:9:19: qualify[1]: unknown signal "team"; known signals: volume`,
      '2 problems in 1 file; nothing loaded',
    ]);
  });

  it('prints definitions and problems as one JSON object with --json', async () => {
    const valid = capture();
    expect(await runValidate(join('definitions', 'team-expansion.yaml'), valid.io, { json: true })).toBe(0);
    const parsed = JSON.parse(valid.out.join('\n')) as {
      definitions: Record<string, unknown>[];
      problems: unknown[];
    };
    expect(parsed.problems).toStrictEqual([]);
    expect(parsed.definitions.map(({ contentHash: _hash, ...rest }) => rest)).toStrictEqual([
      {
        id: 'team-expansion',
        name: 'Team expansion',
        signals: ['active_team', 'invites'],
        sourcePath: join('definitions', 'team-expansion.yaml'),
      },
    ]);
    expect(parsed.definitions[0]?.['contentHash']).toMatch(/^[0-9a-f]{16}$/);

    const path = join(dir, 'devtool.yaml');
    await writeFile(path, BAD, 'utf8');
    const invalid = capture();
    expect(await runValidate(path, invalid.io, { json: true })).toBe(2);
    expect(JSON.parse(invalid.out.join('\n'))).toStrictEqual({
      definitions: [],
      problems: [
        {
          file: path,
          line: 8,
          column: 13,
          path: 'signals.volume.window',
          code: 'invalid_duration',
          message: 'expected a duration like "30d", got "30 days"',
        },
        {
          file: path,
          line: 9,
          column: 19,
          path: 'qualify[1]',
          code: 'unknown_signal',
          message: 'unknown signal "team"; known signals: volume',
        },
      ],
    });
    expect(invalid.err).toStrictEqual([]);
  });

  it('exits 2 for a path that does not exist', async () => {
    const { io, err } = capture();
    expect(await runValidate(join(dir, 'nope'), io, { json: false })).toBe(2);
    expect(err).toStrictEqual([
      `${join(dir, 'nope')}: cannot read: no such file or folder`,
      '1 problem in 1 file; nothing loaded',
    ]);
  });
});
