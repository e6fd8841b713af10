import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { DefinitionFileProblem, LoadedDefinition } from '../config/definition-files.js';
import type { DefinitionCatalog } from '../runtime/definition-catalog.js';
import type { Detector } from '../runtime/detector.js';
import type { CommitQueue } from './commit-queue.js';
import { HttpError } from './http-error.js';
import { isRecord } from './message-checks.js';

/** What the definition routes work with. */
export interface DefinitionRouteDependencies {
  readonly queue: CommitQueue;
  /** The definition folder; without it definitions are read-only (listed, never saved or reloaded). */
  readonly catalog: DefinitionCatalog | undefined;
  /** Opens a detector over the same store with a new definition set (replays stored history). */
  readonly reopen: ((definitions: readonly LoadedDefinition[]) => Promise<Detector>) | undefined;
  readonly requireAdmin: (request: FastifyRequest) => Promise<void>;
  readonly logger: Logger;
}

/** The outcome of putting the definition files live again. */
export type DefinitionReload =
  | { readonly ok: true; readonly changed: boolean }
  | { readonly ok: false; readonly problems: readonly DefinitionFileProblem[] };

/**
 * Registers `/api/definitions*`: list, get (with source and versions), validate, and put (written into
 * the definition folder, then swapped in as a new version). Returns `reload`, which the file watcher calls.
 */
export function registerDefinitionRoutes(
  app: FastifyInstance,
  deps: DefinitionRouteDependencies,
): { reload(): Promise<DefinitionReload> } {
  const { queue, catalog, requireAdmin, logger } = deps;
  let line: Promise<unknown> = Promise.resolve();

  /** Re-reads the folder and, when a definition changed, swaps in a detector built on the new set. */
  function reload(): Promise<DefinitionReload> {
    const next = line.then(async (): Promise<DefinitionReload> => {
      if (catalog === undefined || deps.reopen === undefined) return { ok: true, changed: false };
      const reopen = deps.reopen;
      const result = await catalog.reload();
      if (!result.ok) {
        logger.warn(
          { problems: result.problems.map(problemJson) },
          'definition files have errors; the previous versions stay live',
        );
        return result;
      }
      if (!result.changed) return result;
      const started = Date.now();
      await queue.swap(() => reopen(catalog.definitions));
      logger.info(
        {
          definitions: queue.detector.definitions.map((d) => `${d.definition.id}@${d.version}`),
          ms: Date.now() - started,
        },
        'definitions reloaded',
      );
      return result;
    });
    line = next.catch((error: unknown) => logger.error({ err: error }, 'definition reload failed'));
    return next;
  }

  app.get('/api/definitions', { preHandler: requireAdmin }, async () => ({
    definitions: queue.detector.definitions.map(({ definition, version }) => ({
      id: definition.id,
      name: definition.name,
      description: definition.description ?? null,
      version,
      contentHash: definition.contentHash,
      signals: definition.signals.map((s) => s.name),
      expireMs: definition.expireMs ?? null,
      file: catalog?.definitions.find((d) => d.definition.id === definition.id)?.sourcePath ?? null,
    })),
    // Problems of the files on disk that kept the last good versions live.
    problems: (catalog?.problems ?? []).map(problemJson),
    editable: catalog?.isFolder === true,
  }));

  app.get('/api/definitions/:id', { preHandler: requireAdmin }, async (request) => {
    const id = (request.params as { id: string }).id;
    const live = queue.detector.definitions.find((d) => d.definition.id === id);
    const versions = await queue.detector.store.listDefinitionVersions(id);
    if (live === undefined && versions.length === 0)
      throw new HttpError(404, 'not_found', `no definition "${id}"`, 'params.id');
    return {
      id,
      live: live !== undefined,
      version: live?.version ?? null,
      name: live?.definition.name ?? null,
      file: catalog?.definitions.find((d) => d.definition.id === id)?.sourcePath ?? null,
      source: catalog?.definitions.find((d) => d.definition.id === id)?.sourceText ?? null,
      versions: versions.map((v) => ({
        version: v.version,
        contentHash: v.contentHash,
        createdAt: new Date(v.createdAt).toISOString(),
        source: v.source,
      })),
    };
  });

  app.post('/api/definitions/validate', { preHandler: requireAdmin }, async (request, reply) => {
    const { text, id } = definitionBody(request.body);
    if (catalog === undefined)
      throw new HttpError(409, 'read_only', 'this server was started without a definition folder');
    const result = await catalog.validate(id, text);
    if (!result.ok) return reply.code(422).send({ ok: false, problems: result.problems.map(problemJson) });
    return {
      ok: true,
      problems: [],
      definitions: result.definitions.map((d) => ({ id: d.definition.id, name: d.definition.name })),
    };
  });

  app.put('/api/definitions/:id', { preHandler: requireAdmin }, async (request, reply) => {
    const id = (request.params as { id: string }).id;
    const { text } = definitionBody(request.body);
    if (catalog === undefined || deps.reopen === undefined)
      throw new HttpError(409, 'read_only', 'this server was started without a definition folder');
    const written = await catalog.write(id, text);
    if (!written.ok) return reply.code(422).send({ ok: false, problems: written.problems.map(problemJson) });
    const reloaded = await reload();
    if (!reloaded.ok) {
      // Another file of the folder is broken: the saved one waits until the folder loads as a whole.
      return reply.code(409).send({
        ok: false,
        problems: reloaded.problems.map(problemJson),
        message: `saved to ${written.file}, but the folder does not load; the previous versions stay live`,
      });
    }
    const live = queue.detector.definitions.find((d) => d.definition.id === id);
    return { ok: true, id, version: live?.version ?? null, file: written.file };
  });

  return { reload };
}

function definitionBody(body: unknown): { text: string; id: string | undefined } {
  if (!Buffer.isBuffer(body) || body.length === 0)
    throw new HttpError(400, 'invalid_json', 'expected a JSON body { "text": "<definition YAML>" }');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, 'invalid_json', `the body is not valid JSON (${(error as Error).message})`);
  }
  if (!isRecord(parsed) || typeof parsed['text'] !== 'string')
    throw new HttpError(400, 'required', 'expected "text": the definition as YAML or JSON text', 'text');
  const id = parsed['id'];
  if (id !== undefined && typeof id !== 'string')
    throw new HttpError(400, 'invalid_type', 'expected a string', 'id');
  return { text: parsed['text'], id };
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
