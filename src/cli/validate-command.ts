/**
 * `pql validate PATH`: checks definition files (one file or a folder) without starting anything, for
 * editors, pre-commit hooks and CI. Exit 0 when every definition is valid, 2 otherwise.
 */
import type { DefinitionFileProblem } from '../config/definition-files.js';
import { formatDefinitionFileProblem, loadDefinitionsFromPath } from '../config/definition-files.js';

/** Where the command writes: `out` for results, `err` for problems (one line per call). */
export interface ValidateIo {
  out(line: string): void;
  err(line: string): void;
}

/** Options of `pql validate`. */
export interface ValidateOptions {
  /** Print `{ "definitions": [...], "problems": [...] }` on stdout instead of text. */
  readonly json: boolean;
}

/** Validates the definitions at `path` (a file or a folder), prints them or every problem, and returns the exit code (0 or 2). */
export async function runValidate(path: string, io: ValidateIo, options: ValidateOptions): Promise<number> {
  const result = await loadDefinitionsFromPath(path);
  if (options.json) {
    const definitions = result.ok
      ? result.definitions.map(({ definition, sourcePath }) => ({
          id: definition.id,
          name: definition.name,
          contentHash: definition.contentHash,
          signals: definition.signals.map((signal) => signal.name),
          sourcePath,
        }))
      : [];
    const problems = result.ok ? [] : result.problems.map(problemJson);
    io.out(JSON.stringify({ definitions, problems }, null, 2));
    return result.ok ? 0 : 2;
  }
  if (!result.ok) {
    for (const problem of result.problems) io.err(formatDefinitionFileProblem(problem));
    const files = new Set(result.problems.map((problem) => problem.file)).size;
    const count = result.problems.length;
    io.err(
      `${count} ${count === 1 ? 'problem' : 'problems'} in ${files} ${files === 1 ? 'file' : 'files'}; nothing loaded`,
    );
    return 2;
  }
  for (const { definition, sourcePath } of result.definitions) {
    const count = definition.signals.length;
    io.out(
      `${definition.id}: "${definition.name}", ${count} ${count === 1 ? 'signal' : 'signals'} (${sourcePath})`,
    );
  }
  return 0;
}

function problemJson(problem: DefinitionFileProblem): Record<string, unknown> {
  return {
    file: problem.file,
    line: problem.line ?? null,
    column: problem.column ?? null,
    path: problem.path,
    code: problem.code,
    message: problem.message,
  };
}
