import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { definitionSchemaText, writeDefinitionSchema } from './write-definition-schema.js';

describe('writeDefinitionSchema', () => {
  it('keeps the committed schema/pql-definition.schema.json in step with the parser (regenerate with npx tsx src/config/write-definition-schema.ts)', async () => {
    expect(await readFile('schema/pql-definition.schema.json', 'utf8')).toBe(definitionSchemaText());
  });

  it('writes the schema text to the given path, creating its folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pql-schema-'));
    try {
      const path = await writeDefinitionSchema(join(dir, 'nested', 'schema.json'));
      expect(await readFile(path, 'utf8')).toBe(definitionSchemaText());
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
