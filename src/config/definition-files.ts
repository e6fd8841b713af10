/**
 * Loads PQL definitions from YAML or JSON files and maps every problem back to its file, line and column,
 * so `signals.volume.window` in an issue becomes `definitions/devtool.yaml:12:13`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Document, Node, ParsedNode } from 'yaml';
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Definition } from '../core/definitions/definition.js';
import { parseDefinitionSet } from '../core/definitions/parse-definition.js';
import type { Issue } from '../core/issues.js';

/** A problem with a definition file, located as precisely as the file allows (line and column are 1-based). */
export interface DefinitionFileProblem {
  readonly file: string;
  /** Undefined when the problem is with the file as a whole (unreadable, not found). */
  readonly line: number | undefined;
  readonly column: number | undefined;
  /** The field path inside the definition (`signals.volume.window`); '' for the whole document. */
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

/** A definition that loaded cleanly, with the file it came from and that file's text. */
export interface LoadedDefinition {
  readonly definition: Definition;
  readonly sourcePath: string;
  /** The text of the document the definition was written in. */
  readonly sourceText: string;
}

/** Every definition of the files, or every problem found in them: a definition with an error never half-loads. */
export type DefinitionFilesResult =
  | { readonly ok: true; readonly definitions: readonly LoadedDefinition[] }
  | { readonly ok: false; readonly problems: readonly DefinitionFileProblem[] };

/** File name endings read as definitions when a folder is given. */
export const DEFINITION_FILE_EXTENSIONS = ['.yaml', '.yml', '.json'] as const;

interface ParsedFile {
  readonly file: string;
  readonly text: string;
  readonly lineCounter: LineCounter;
  readonly documents: readonly Document.Parsed[];
}

/** Renders a problem as `file:line:column: path: message` (position and path left out when unknown or empty). */
export function formatDefinitionFileProblem(problem: DefinitionFileProblem): string {
  const position = problem.line === undefined ? '' : `:${problem.line}:${problem.column ?? 1}`;
  const path = problem.path === '' ? '' : `${problem.path}: `;
  return `${problem.file}${position}: ${path}${problem.message}`;
}

/** Loads the definitions of one YAML or JSON file (a YAML file may hold several documents, one definition each). */
export async function loadDefinitionFile(path: string): Promise<DefinitionFilesResult> {
  return loadFiles([path]);
}

/** Loads one file, or every `*.yaml`, `*.yml` and `*.json` file directly inside a folder (sorted by name), as one set. */
export async function loadDefinitionsFromPath(pathOrDir: string): Promise<DefinitionFilesResult> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(pathOrDir)).isDirectory();
  } catch (error) {
    return fileProblem(pathOrDir, 'not_found', `cannot read: ${reason(error)}`);
  }
  if (!isDirectory) return loadFiles([pathOrDir]);
  const names = (await readdir(pathOrDir))
    .filter((name) => DEFINITION_FILE_EXTENSIONS.some((extension) => name.endsWith(extension)))
    .sort();
  if (names.length === 0) {
    return fileProblem(
      pathOrDir,
      'no_definitions',
      `no definition files (${DEFINITION_FILE_EXTENSIONS.join(', ')}) in this folder`,
    );
  }
  return loadFiles(names.map((name) => join(pathOrDir, name)));
}

async function loadFiles(paths: readonly string[]): Promise<DefinitionFilesResult> {
  const readProblems: DefinitionFileProblem[] = [];
  const texts: { file: string; text: string }[] = [];
  for (const file of paths) {
    try {
      texts.push({ file, text: await readFile(file, 'utf8') });
    } catch (error) {
      readProblems.push({
        file,
        line: undefined,
        column: undefined,
        path: '',
        code: 'unreadable',
        message: `cannot read: ${reason(error)}`,
      });
    }
  }
  const loaded = parseDefinitionTexts(texts);
  if (readProblems.length === 0) return loaded;
  const problems = [...readProblems, ...(loaded.ok ? [] : loaded.problems)];
  return { ok: false, problems: inFileOrder(problems, paths) };
}

/**
 * Parses definition files given as text (an editor's unsaved buffer beside the files on disk) as one set,
 * with every problem located by file, line and column, exactly as loading them from disk would.
 */
export function parseDefinitionTexts(
  texts: readonly { readonly file: string; readonly text: string }[],
): DefinitionFilesResult {
  const paths = texts.map((t) => t.file);
  const problems: DefinitionFileProblem[] = [];
  const files: ParsedFile[] = [];
  for (const { file, text } of texts) {
    const parsed = parseFile(file, text);
    problems.push(...parsed.problems);
    if (parsed.problems.length === 0) files.push(parsed.file);
  }

  const inputs = files.flatMap((file) =>
    file.documents.map((document) => ({
      file,
      document,
      value: document.toJS({ maxAliasCount: 1000 }) as unknown,
    })),
  );
  const parsed = parseDefinitionSet(inputs.map((input) => ({ source: input.file.file, value: input.value })));
  if (!parsed.ok) {
    for (const { index, issue } of parsed.issues) {
      const input = inputs[index];
      if (input !== undefined) problems.push(locate(input.file, input.document, issue));
    }
  }
  if (problems.length > 0 || !parsed.ok) return { ok: false, problems: inFileOrder(problems, paths) };
  return {
    ok: true,
    definitions: parsed.definitions.map((loaded, index) => {
      const input = inputs[index];
      const file = input?.file;
      const text =
        file === undefined
          ? ''
          : file.documents.length > 1
            ? documentText(file.text, input?.document)
            : file.text;
      return { definition: loaded.definition, sourcePath: loaded.source, sourceText: text };
    }),
  };
}

function parseFile(file: string, text: string): { file: ParsedFile; problems: DefinitionFileProblem[] } {
  const lineCounter = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  const problems: DefinitionFileProblem[] = [];
  // A stream with nothing but comments parses as an empty list (or a single empty document).
  const list = Array.isArray(documents) ? documents : [];
  for (const document of list) {
    for (const error of document.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      problems.push({
        file,
        line,
        column: col,
        path: '',
        code: `yaml_${error.code.toLowerCase()}`,
        message: error.message,
      });
    }
  }
  const nonEmpty = list.filter((document) => document.contents !== null || list.length === 1);
  if (problems.length === 0 && nonEmpty.length === 0) {
    problems.push({
      file,
      line: undefined,
      column: undefined,
      path: '',
      code: 'empty_file',
      message: 'the file holds no definition',
    });
  }
  return { file: { file, text, lineCounter, documents: nonEmpty }, problems };
}

/** Maps an issue's field path to the line and column of its node, or of the nearest enclosing node that exists. */
function locate(file: ParsedFile, document: Document.Parsed, issue: Issue): DefinitionFileProblem {
  const node = findNode(document.contents, issue.path, issue.code === 'unknown_key');
  const offset = node?.range?.[0] ?? document.range[0];
  const { line, col } = file.lineCounter.linePos(offset);
  return { file: file.file, line, column: col, path: issue.path, code: issue.code, message: issue.message };
}

/**
 * Walks a dotted path (`signals.volume.window`, `qualify.all[2]`) through the YAML nodes. Keys are matched
 * whole (longest first), so a key that itself contains a dot is still found. With `preferKey`, the last step
 * yields the key node (an unknown key is reported where it is written, not at its value).
 */
function findNode(root: ParsedNode | null, path: string, preferKey: boolean): Node | null {
  let node: Node | null = root;
  let rest = path;
  while (rest !== '' && node !== null) {
    const index = /^\[(\d+)\]/.exec(rest);
    if (index !== null) {
      if (!isSeq(node)) break;
      const item: unknown = node.items[Number(index[1])];
      if (!isNode(item)) break;
      node = item;
      rest = rest.slice(index[0].length).replace(/^\./, '');
      continue;
    }
    if (!isMap(node)) break;
    const remaining = rest;
    const match = node.items
      .filter(isPair)
      .map((pair) => ({ pair, key: isScalar(pair.key) ? String(pair.key.value) : undefined }))
      .filter(
        (candidate): candidate is { pair: (typeof candidate)['pair']; key: string } =>
          candidate.key !== undefined &&
          (remaining === candidate.key ||
            remaining.startsWith(`${candidate.key}.`) ||
            remaining.startsWith(`${candidate.key}[`)),
      )
      .sort((a, b) => b.key.length - a.key.length)[0];
    if (match === undefined) break;
    rest = rest.slice(match.key.length).replace(/^\./, '');
    const keyNode: unknown = match.pair.key;
    const valueNode: unknown = match.pair.value;
    if (rest === '' && preferKey && isNode(keyNode)) return keyNode;
    // `key:` with nothing after it has a null value node; point at the key then.
    node =
      isNode(valueNode) && valueNode.range !== undefined && valueNode.range !== null
        ? valueNode
        : isNode(keyNode)
          ? keyNode
          : node;
  }
  return node;
}

/** Sorts problems by file (in the order read), then by line and column; issues without a position come first. */
function inFileOrder(
  problems: readonly DefinitionFileProblem[],
  paths: readonly string[],
): DefinitionFileProblem[] {
  return [...problems].sort(
    (a, b) =>
      paths.indexOf(a.file) - paths.indexOf(b.file) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
}

function isNode(value: unknown): value is Node {
  return isScalar(value) || isMap(value) || isSeq(value);
}

function documentText(text: string, document: Document.Parsed | undefined): string {
  return document === undefined ? text : text.slice(document.range[0], document.range[2]);
}

function fileProblem(file: string, code: string, message: string): DefinitionFilesResult {
  return { ok: false, problems: [{ file, line: undefined, column: undefined, path: '', code, message }] };
}

function reason(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT')
    return 'no such file or folder';
  return error instanceof Error ? error.message : String(error);
}
