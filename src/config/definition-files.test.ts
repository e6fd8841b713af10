import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  formatDefinitionFileProblem,
  loadDefinitionFile,
  loadDefinitionsFromPath,
} from './definition-files.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pql-definitions-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text, 'utf8');
  return path;
}

const VALID = `id: devtool
name: Devtool
signals:
  first_call: { event: API Call Made }
qualify: first_call
`;

describe('loadDefinitionsFromPath', () => {
  it('loads the three example definitions of the definitions/ folder', async () => {
    const result = await loadDefinitionsFromPath('definitions');
    expect(
      result.ok && result.definitions.map((loaded) => [loaded.definition.id, loaded.sourcePath]),
    ).toStrictEqual([
      ['devtool-activated', join('definitions', 'devtool-activated.yaml')],
      ['team-expansion', join('definitions', 'team-expansion.yaml')],
      ['workflow-builder', join('definitions', 'workflow-builder.yaml')],
    ]);
  });

  it('maps an issue path to the line and column of its value in the YAML', async () => {
    const path = await write(
      'devtool.yaml',
      `# a comment
id: devtool
name: Devtool
signals:
  first_call: { event: API Call Made }
  volume:
    event: Events Processed
    sum: properties.count
    gte: 1000
    window: 30 days
qualify: { all: [first_call, volume] }
`,
    );
    const result = await loadDefinitionsFromPath(path);
    expect(result).toStrictEqual({
      ok: false,
      problems: [
        {
          file: path,
          line: 10,
          column: 13,
          path: 'signals.volume.window',
          code: 'invalid_duration',
          message: 'expected a duration like "30d", got "30 days"',
        },
      ],
    });
    expect(result.ok ? '' : result.problems.map(formatDefinitionFileProblem)).toStrictEqual([
      `${path}:10:13: signals.volume.window: expected a duration like "30d", got "30 days"`,
    ]);
  });

  it('locates unknown keys at the key, list items by index, and missing keys at the enclosing mapping', async () => {
    const path = await write(
      'many.yaml',
      `id: many
signals:
  first_call: { event: API Call Made, windw: 3d }
qualify:
  all:
    - first_call
    - volume
fit: { all: [{ trait: employees, gte: ten }] }
`,
    );
    const result = await loadDefinitionFile(path);
    expect(result.ok ? [] : result.problems.map((p) => [p.line, p.column, p.path])).toStrictEqual([
      [1, 1, 'name'],
      [3, 39, 'signals.first_call.windw'],
      [7, 7, 'qualify.all[1]'],
      [8, 39, 'fit.all[0].gte'],
    ]);
  });

  it('reports YAML syntax errors with line and column and loads nothing from that file', async () => {
    const path = await write('broken.yaml', `id: broken\nname: [Broken\nsignals: {}\n`);
    const result = await loadDefinitionsFromPath(path);
    expect(
      result.ok ? [] : result.problems.map((p) => [p.file, p.line, p.column, p.path, p.code]),
    ).toStrictEqual([[path, 3, 1, '', 'yaml_bad_indent']]);
  });

  it('reports duplicate keys as a YAML error at the repeated key', async () => {
    const path = await write('dup-key.yaml', `${VALID}name: Again\n`);
    const result = await loadDefinitionsFromPath(path);
    expect(result.ok ? [] : result.problems.map((p) => [p.line, p.column, p.code, p.message])).toStrictEqual([
      [6, 1, 'yaml_duplicate_key', 'Map keys must be unique'],
    ]);
  });

  it('rejects the same id in two files of a folder and loads none of them', async () => {
    await write('a.yaml', VALID);
    await write('b.yml', VALID);
    await write('notes.txt', 'not a definition');
    const result = await loadDefinitionsFromPath(dir);
    expect(result).toStrictEqual({
      ok: false,
      problems: [
        {
          file: join(dir, 'b.yml'),
          line: 1,
          column: 5,
          path: 'id',
          code: 'duplicate_id',
          message: `duplicate definition id "devtool"; already defined in ${join(dir, 'a.yaml')}`,
        },
      ],
    });
  });

  it('never half-loads: one bad file fails the whole folder, and every file reports its problems', async () => {
    await write('a.yaml', VALID);
    await write(
      'b.json',
      JSON.stringify(
        { id: 'b', name: 'B', signals: { s: { event: 'E', window: '3x' } }, qualify: 's' },
        null,
        2,
      ),
    );
    await write(
      'c.yaml',
      VALID.replace('devtool', 'c').replace('qualify: first_call', 'qualify: second_call'),
    );
    const result = await loadDefinitionsFromPath(dir);
    expect(result.ok ? [] : result.problems.map(formatDefinitionFileProblem)).toStrictEqual([
      `${join(dir, 'b.json')}:7:17: signals.s.window: expected a duration like "30d", got "3x"`,
      `${join(dir, 'c.yaml')}:5:10: qualify: unknown signal "second_call"; known signals: first_call`,
    ]);
  });

  it('loads several definitions from one multi-document YAML file, each with its own text', async () => {
    const second = VALID.replace('devtool', 'second');
    const path = await write('two.yaml', `${VALID}---\n${second}`);
    const result = await loadDefinitionFile(path);
    expect(
      result.ok && result.definitions.map((loaded) => [loaded.definition.id, loaded.sourceText]),
    ).toStrictEqual([
      ['devtool', VALID],
      ['second', `---\n${second}`],
    ]);
  });

  it('keeps the whole file text of a single definition', async () => {
    const path = await write('one.yaml', VALID);
    const result = await loadDefinitionFile(path);
    expect(result.ok && result.definitions.map((loaded) => loaded.sourceText)).toStrictEqual([VALID]);
  });

  it('reports a missing path, an empty folder and an empty file without a position', async () => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const blank = await write('blank.yaml', '# nothing here\n');
    const results = await Promise.all([
      loadDefinitionsFromPath(join(dir, 'missing')),
      loadDefinitionsFromPath(empty),
      loadDefinitionsFromPath(blank),
    ]);
    expect(
      results.map((result) => (result.ok ? [] : result.problems.map(formatDefinitionFileProblem))),
    ).toStrictEqual([
      [`${join(dir, 'missing')}: cannot read: no such file or folder`],
      [`${empty}: no definition files (.yaml, .yml, .json) in this folder`],
      [`${blank}: the file holds no definition`],
    ]);
  });
});
