/**
 * Writes the definition language's JSON Schema to a file (`schema/pql-definition.schema.json` in the repo),
 * for editors: `# yaml-language-server: $schema=../schema/pql-definition.schema.json`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { definitionJsonSchema } from '../core/definitions/definition-json-schema.js';

/** The JSON Schema text exactly as written to the file: two-space JSON and a final newline. */
export function definitionSchemaText(): string {
  return `${JSON.stringify(definitionJsonSchema(), null, 2)}\n`;
}

/** Writes the definition JSON Schema to `path` (creating its folder) and returns the path written. */
export async function writeDefinitionSchema(path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, definitionSchemaText(), 'utf8');
  return path;
}

// `npx tsx src/config/write-definition-schema.ts [path]` regenerates the committed file.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target =
    process.argv[2] ??
    resolve(dirname(fileURLToPath(import.meta.url)), '../../schema/pql-definition.schema.json');
  writeDefinitionSchema(target).then(
    (written) => console.log(`wrote ${written}`),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
