import { watch, type FSWatcher } from 'node:fs';
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  DEFINITION_FILE_EXTENSIONS,
  loadDefinitionsFromPath,
  parseDefinitionTexts,
  type DefinitionFileProblem,
  type DefinitionFilesResult,
  type LoadedDefinition,
} from '../config/definition-files.js';

/** The outcome of re-reading the definition files. */
export type CatalogReload =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly problems: readonly DefinitionFileProblem[] };

/** The outcome of writing one definition. */
export type CatalogWrite =
  | { readonly ok: true; readonly file: string; readonly definitions: readonly LoadedDefinition[] }
  | { readonly ok: false; readonly problems: readonly DefinitionFileProblem[] };

/**
 * The definition files of a running server: the folder is the source of truth. A reload that finds a bad
 * file keeps the last good set live and remembers the problems; a definition saved through the API is
 * validated with the other files, then written into the folder.
 */
export class DefinitionCatalog {
  private current: readonly LoadedDefinition[];
  private lastProblems: readonly DefinitionFileProblem[] = [];
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;

  private constructor(
    /** The definition file or folder. */
    readonly path: string,
    /** Whether `path` is a folder (only a folder takes new definitions). */
    readonly isFolder: boolean,
    loaded: readonly LoadedDefinition[],
  ) {
    this.current = loaded;
  }

  /** Loads the definitions at `path`; returns the problems when the set does not load at all. */
  static async open(
    path: string,
  ): Promise<
    | { readonly ok: true; readonly catalog: DefinitionCatalog }
    | { readonly ok: false; readonly problems: readonly DefinitionFileProblem[] }
  > {
    const loaded = await loadDefinitionsFromPath(path);
    if (!loaded.ok) return loaded;
    const isFolder = (await stat(path)).isDirectory();
    return { ok: true, catalog: new DefinitionCatalog(path, isFolder, loaded.definitions) };
  }

  /** The definitions live now (the last set that loaded cleanly). */
  get definitions(): readonly LoadedDefinition[] {
    return this.current;
  }

  /** Problems of the last reload; empty when it loaded cleanly. */
  get problems(): readonly DefinitionFileProblem[] {
    return this.lastProblems;
  }

  /** Re-reads the files; a clean set replaces the live one (`changed` when a definition's content differs). */
  async reload(): Promise<CatalogReload> {
    const loaded = await loadDefinitionsFromPath(this.path);
    if (!loaded.ok) {
      this.lastProblems = loaded.problems;
      return loaded;
    }
    this.lastProblems = [];
    const changed = fingerprint(loaded.definitions) !== fingerprint(this.current);
    this.current = loaded.definitions;
    return { ok: true, changed };
  }

  /** The file a definition lives in, or where a new one would be written. */
  fileFor(definitionId: string): string {
    const existing = this.current.find((d) => d.definition.id === definitionId);
    if (existing !== undefined) return existing.sourcePath;
    return join(this.folder(), `${definitionId}.yaml`);
  }

  /** Validates `text` as the file of `definitionId`, together with every other file of the set. */
  async validate(definitionId: string | undefined, text: string): Promise<DefinitionFilesResult> {
    const target =
      definitionId === undefined ? join(this.folder(), 'unsaved.yaml') : this.fileFor(definitionId);
    const others = await this.otherFiles(target);
    const result = parseDefinitionTexts([...others, { file: target, text }]);
    if (!result.ok) return { ok: false, problems: result.problems.filter((p) => p.file === target) };
    return { ok: true, definitions: result.definitions.filter((d) => d.sourcePath === target) };
  }

  /**
   * Validates and writes the definition `definitionId` (its text must define exactly that id), atomically
   * (a temporary file renamed over the old one). The caller reloads to put it live.
   */
  async write(definitionId: string, text: string): Promise<CatalogWrite> {
    if (!this.isFolder) {
      return problem(
        this.path,
        'not_a_folder',
        'definitions are loaded from a single file; serve a folder (--definitions DIR) to save definitions through the API',
      );
    }
    const target = this.fileFor(definitionId);
    const sharing = this.current.filter((d) => d.sourcePath === target && d.definition.id !== definitionId);
    if (sharing.length > 0) {
      return problem(
        target,
        'shared_file',
        `this file also defines ${sharing.map((d) => d.definition.id).join(', ')}; edit the file itself`,
      );
    }
    const validated = await this.validate(definitionId, text);
    if (!validated.ok) return validated;
    const ids = validated.definitions.map((d) => d.definition.id);
    if (ids.length !== 1 || ids[0] !== definitionId) {
      return problem(
        target,
        'id_mismatch',
        `expected exactly one definition with id "${definitionId}", the text defines ${ids.length === 0 ? 'none' : ids.map((id) => `"${id}"`).join(', ')}`,
        'id',
      );
    }
    const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
    await writeFile(temporary, text, 'utf8');
    await rename(temporary, target);
    return { ok: true, file: target, definitions: validated.definitions };
  }

  /** Calls `onChange` (debounced) whenever a definition file in the folder changes. */
  watch(onChange: () => void, debounceMs = 150): void {
    this.unwatch();
    const folder = this.folder();
    const file = this.isFolder ? undefined : basename(this.path);
    this.watcher = watch(folder, (_event, name) => {
      const changed = name === null ? undefined : String(name);
      if (changed !== undefined) {
        if (file !== undefined && changed !== file) return;
        if (!DEFINITION_FILE_EXTENSIONS.some((extension) => changed.endsWith(extension))) return;
      }
      if (this.debounce !== undefined) clearTimeout(this.debounce);
      this.debounce = setTimeout(onChange, debounceMs);
      this.debounce.unref();
    });
    this.watcher.unref();
  }

  /** Stops watching. */
  unwatch(): void {
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    this.watcher?.close();
    this.watcher = undefined;
  }

  private folder(): string {
    return this.isFolder ? this.path : dirname(resolve(this.path));
  }

  private async otherFiles(target: string): Promise<{ file: string; text: string }[]> {
    const files = [...new Set(this.current.map((d) => d.sourcePath))].filter(
      (file) => resolve(file) !== resolve(target),
    );
    const texts: { file: string; text: string }[] = [];
    for (const file of files) {
      try {
        texts.push({ file, text: await readFile(file, 'utf8') });
      } catch {
        // A file removed since the last load simply no longer takes part.
      }
    }
    return texts;
  }
}

function fingerprint(definitions: readonly LoadedDefinition[]): string {
  return definitions
    .map((d) => `${d.definition.id}:${d.definition.contentHash}`)
    .sort()
    .join('|');
}

function problem(
  file: string,
  code: string,
  message: string,
  path = '',
): { readonly ok: false; readonly problems: readonly DefinitionFileProblem[] } {
  return { ok: false, problems: [{ file, line: undefined, column: undefined, path, code, message }] };
}
