import { cpSync, existsSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import {
  formatDefinitionFileProblem,
  loadDefinitionsFromPath,
  type LoadedDefinition,
} from '../config/definition-files.js';
import { Detector } from '../runtime/detector.js';
import { AnalysisInputError } from '../runtime/load-analysis-data.js';
import { ImportInputError, importWorkspace, type ImportReport } from '../sources/import-workspace.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { runValidate } from './validate-command.js';
import { startProgress } from './progress.js';
import { demoDefinitionsDir, runDemo } from './demo-command.js';
import { registerAlertsCommand } from './alerts-command.js';
import { createAlerting, loadReps, type Alerting } from '../alerts/alerting-runtime.js';
import type { DeliveryWorker } from '../alerts/delivery-worker.js';
import { readOwnersCsv } from '../sources/crm/read-crm-files.js';
import { printJoinSummary, registerJoinsCommand } from './joins-command.js';
import { registerDiscoverCommand } from './discover-command.js';
import { registerBacktestCommand } from './backtest-command.js';
import { registerCohortsCommand } from './cohorts-command.js';
import { runServe } from './serve-command.js';
import { runWorker } from './worker-command.js';
import { ServerConfigError, type ServeFlags } from '../config/server-config.js';
import { loadAlertingSettings } from '../config/alerting-settings.js';

/** Where the CLI writes: stdout lines and stderr lines (swappable in tests). */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Bad input or configuration: the CLI prints the message on stderr and exits 2. */
export class CliInputError extends Error {
  override readonly name = 'CliInputError';
}

/** The folder of example definitions shipped with the package. */
export const PACKAGED_DEFINITIONS = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'definitions',
);

/** The default data directory: PQL_DATA_DIR, else `.pql/data` under the working directory. */
export function defaultDataDir(): string {
  return process.env['PQL_DATA_DIR'] ?? join('.pql', 'data');
}

/** Resolves the definitions path: the option, PQL_DEFINITIONS, ./definitions, else the packaged examples. */
export function definitionsPath(option: string | undefined): string {
  if (option !== undefined) return option;
  if (process.env['PQL_DEFINITIONS'] !== undefined) return process.env['PQL_DEFINITIONS'];
  return existsSync('definitions') ? 'definitions' : PACKAGED_DEFINITIONS;
}

/** Loads definitions or throws a CliInputError listing every problem with file, line and path. */
export async function loadDefinitionsOrFail(path: string): Promise<readonly LoadedDefinition[]> {
  const loaded = await loadDefinitionsFromPath(path);
  if (!loaded.ok) throw new CliInputError(loaded.problems.map(formatDefinitionFileProblem).join('\n'));
  if (loaded.definitions.length === 0)
    throw new CliInputError(`${path}: no definitions found (*.yaml, *.yml, *.json)`);
  return loaded.definitions;
}

/** Prints an import report as text. */
export function printImportReport(io: CliIo, report: ImportReport): void {
  for (const file of report.files) {
    if (file.skipped !== undefined) {
      io.err(`warning: ${file.file}: ${file.skipped}`);
      continue;
    }
    io.out(
      `${file.file}: ${file.linesRead} lines read, ${file.accepted} accepted, ${file.duplicates} duplicates, ${file.rejected} rejected`,
    );
    for (const [code, reason] of Object.entries(file.rejectedByReason)) {
      const more = reason.count > reason.lines.length ? ', ...' : '';
      io.out(
        `  rejected ${reason.count} x ${code} (lines ${reason.lines.join(', ')}${more}): ${reason.example}`,
      );
    }
    if (file.rejectsFile !== undefined) io.out(`  rejected lines written to ${file.rejectsFile}`);
  }
  for (const warning of report.warnings) io.err(`warning: ${warning}`);
  if (report.joins !== undefined) printJoinSummary(io, report.joins);
  io.out(`PQLs: ${report.pqls} new, ${report.corrections} corrected, ${report.expired} expired`);
}

/**
 * Alerting for `pql import --alert`: channels and routing rules from pql.yaml (`--config`, else ./pql.yaml)
 * and the environment, reps from the export's owners; warns on stderr about definitions no channel serves.
 */
async function importAlerting(
  io: CliIo,
  dir: string,
  dataDir: string,
  configFlag: string | undefined,
  definitions: readonly LoadedDefinition[],
): Promise<Alerting> {
  let settings;
  try {
    settings = loadAlertingSettings(configFlag);
  } catch (error) {
    if (error instanceof ServerConfigError) throw new CliInputError(error.message);
    throw error;
  }
  const ownersCsv = join(dir, 'crm', 'owners.csv');
  const reps = existsSync(ownersCsv)
    ? (await readOwnersCsv(ownersCsv, [])).owners.map((o) => ({
        ownerId: o.ownerId,
        name: o.name ?? o.ownerId,
        email: o.email,
        slackUserId: o.slackUserId,
        territory: o.territory,
        weight: o.weight ?? 1,
        away: o.away,
      }))
    : await loadReps(dataDir);
  const alerting = createAlerting(settings.alerting, reps, settings.routing);
  if (alerting === undefined) {
    throw new CliInputError(
      '--alert: no alert channel is configured; set alerts.slack_webhook_url, alerts.slack_bot_token, or alerts.webhook_url with alerts.webhook_secret in pql.yaml, or PQL_SLACK_WEBHOOK_URL, PQL_SLACK_BOT_TOKEN, or PQL_WEBHOOK_URL with PQL_WEBHOOK_SECRET',
    );
  }
  for (const warning of alerting.routeWarnings(definitions.map((d) => d.definition)))
    io.err(`warning: ${warning.message}`);
  return alerting;
}

/** Runs the delivery worker until nothing is due (at most a minute); returns the outbox counts. */
async function deliverOutbox(
  worker: DeliveryWorker,
  store: SqliteStore,
): Promise<{ delivered: number; pending: number; dead: number }> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if ((await worker.runOnce()) > 0) continue;
    const pending = await store.listAlerts({ status: 'pending', limit: 1 });
    const next = pending[0]?.nextAttemptAt;
    if (next === undefined || next - Date.now() > deadline - Date.now()) break;
    await new Promise((resolve) => setTimeout(resolve, Math.max(50, next - Date.now())));
  }
  const count = async (status: 'delivered' | 'pending' | 'dead'): Promise<number> =>
    (await store.listAlerts({ status, limit: 1_000_000 })).length;
  return { delivered: await count('delivered'), pending: await count('pending'), dead: await count('dead') };
}

function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command('pql')
    .description('Detect Product Qualified Leads from product events, CRM and billing.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  program
    .command('validate')
    .description(
      'validate definition files (a file or a folder), reporting every problem with file, line and path',
    )
    .argument('<path>', 'definition file or folder')
    .option('--json', 'print { definitions, problems } as JSON')
    .action(async (path: string, options: { json?: boolean }) => {
      setExit(await runValidate(path, io, { json: options.json === true }));
    });

  program
    .command('import')
    .description('import a workspace export (CRM, billing and events.ndjson) into the store, detecting PQLs')
    .argument('<dir>', 'workspace export directory')
    .option('--data-dir <dir>', 'store directory (default: PQL_DATA_DIR or .pql/data)')
    .option(
      '--definitions <path>',
      'definition file or folder (default: PQL_DEFINITIONS, ./definitions or the examples)',
    )
    .option('--json', 'print the report as JSON')
    .option('--alert', 'send alerts for the PQLs this import finds (imports are silent by default)')
    .option('--config <file>', 'with --alert: alert channels and routing (default: ./pql.yaml when present)')
    .action(
      async (
        dir: string,
        options: {
          dataDir?: string;
          definitions?: string;
          json?: boolean;
          alert?: boolean;
          config?: string;
        },
      ) => {
        const json = options.json === true;
        const definitions = await loadDefinitionsOrFail(definitionsPath(options.definitions));
        if (!existsSync(dir)) throw new CliInputError(`${dir}: no such directory`);
        const dataDir = options.dataDir ?? defaultDataDir();
        const alerting =
          options.alert === true
            ? await importAlerting(io, dir, dataDir, options.config, definitions)
            : undefined;
        const store = SqliteStore.open(join(dataDir, 'pql.sqlite'));
        try {
          const rebuild = startProgress('rebuilding state', 0, !json);
          const detector = await Detector.open(store, definitions, {
            onRebuildProgress: (n, total) => rebuild.update(n, total),
            ...(alerting === undefined ? {} : { alerting: alerting.detectorOption }),
          });
          rebuild.stop();
          const bar = startProgress('importing events', 0, !json);
          const report = await importWorkspace(dir, detector, {
            rejectsDir: join(dataDir, 'rejects'),
            dataDir,
            onProgress: (_file, read, total) => bar.update(read, total),
          });
          bar.stop();
          if (json)
            io.out(
              JSON.stringify(
                { files: report.files, warnings: report.warnings, pqls: report.pqls, joins: report.joins },
                null,
                2,
              ),
            );
          else printImportReport(io, report);
          if (alerting !== undefined) {
            const delivered = await deliverOutbox(alerting.createWorker(store), store);
            (json ? io.err : io.out)(
              `alerts: ${delivered.delivered} delivered, ${delivered.pending} still queued, ${delivered.dead} dead-lettered`,
            );
          }
        } finally {
          await store.close();
        }
      },
    );

  registerJoinsCommand(program, io);
  registerDiscoverCommand(program, io, (message) => {
    throw new CliInputError(message);
  });

  registerBacktestCommand(program, io, loadDefinitionsOrFail);
  registerCohortsCommand(program, io, (path) => loadDefinitionsOrFail(definitionsPath(path)));

  program
    .command('serve')
    .description('serve the Segment and PostHog ingest APIs, live detection and the read API')
    .option('--port <port>', 'port to listen on (default: PQL_PORT, pql.yaml or 7070)')
    .option('--host <host>', 'address to bind (default 0.0.0.0)')
    .option('--data-dir <dir>', 'store directory (default: PQL_DATA_DIR, pql.yaml or .pql/data)')
    .option(
      '--definitions <path>',
      'definition file or folder (default: PQL_DEFINITIONS, ./definitions or the examples)',
    )
    .option('--config <file>', 'configuration file (default: ./pql.yaml when present)')
    .option(
      '--role <role>',
      'all (one process), ingest (publish to NATS JetStream) or worker (scale-out detection); see docs/scale-out.md',
      'all',
    )
    .action(async (options: ServeFlags) => {
      if (options.role === 'worker') await runWorker(options, io);
      else if (options.role === 'all' || options.role === 'ingest') await runServe(options, io);
      else
        throw new CliInputError(
          `--role: expected all, ingest or worker, got ${JSON.stringify(options.role)}`,
        );
    });

  program
    .command('demo')
    .description('generate a seeded demo world, import it and print the PQLs the example definitions find')
    .option('--data-dir <dir>', 'where the demo store and export go', join('.pql', 'demo'))
    .addOption(new Option('--seed <n>', 'random seed').default('42'))
    .addOption(new Option('--accounts <n>', 'number of accounts').default('3000'))
    .option('--definitions <path>', 'definition file or folder (default: the examples)')
    .option('--json', 'print the PQLs as JSON')
    .option('--serve', 'then serve the demo world: ingest APIs, live detection and the dashboard')
    .option('--port <port>', 'port for --serve (default: PQL_PORT or 7070)')
    .action(
      async (options: {
        dataDir: string;
        seed: string;
        accounts: string;
        definitions?: string;
        json?: boolean;
        serve?: boolean;
        port?: string;
      }) => {
        const seed = Number(options.seed);
        const accounts = Number(options.accounts);
        if (!Number.isInteger(seed))
          throw new CliInputError(`--seed: expected an integer, got "${options.seed}"`);
        if (!Number.isInteger(accounts) || accounts < 1)
          throw new CliInputError(`--accounts: expected a positive integer, got "${options.accounts}"`);
        const definitions = await loadDefinitionsOrFail(options.definitions ?? PACKAGED_DEFINITIONS);
        await runDemo(io, {
          dataDir: options.dataDir,
          seed,
          accounts,
          definitions,
          json: options.json === true,
        });
        if (options.serve !== true) return;
        // The served copy of the definitions lives with the demo, so edits in the dashboard stay there.
        const served = demoDefinitionsDir(options.dataDir);
        rmSync(served, { recursive: true, force: true });
        cpSync(options.definitions ?? PACKAGED_DEFINITIONS, served, { recursive: true });
        io.out('');
        await runServe(
          {
            dataDir: options.dataDir,
            definitions: served,
            ...(options.port === undefined ? {} : { port: options.port }),
          },
          io,
          {
            onListening: (url, adminToken, writeKeys) => {
              const local = url.replace('0.0.0.0', 'localhost');
              io.out(`Dashboard: ${local}/   (sign in with the admin token below)`);
              io.out(`admin token: ${adminToken}`);
              io.out(`demo write key: ${writeKeys[0] ?? ''}   (Segment: POST ${local}/v1/batch)`);
              io.out('Stop with Ctrl-C.');
            },
          },
        );
      },
    );

  registerAlertsCommand(
    program,
    io,
    defaultDataDir,
    (message) => {
      throw new CliInputError(message);
    },
    setExit,
  );

  return program;
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      )
        return 0;
      return 2;
    }
    if (
      error instanceof CliInputError ||
      error instanceof ImportInputError ||
      error instanceof AnalysisInputError
    ) {
      io.err(`pql: ${error.message}`);
      return 2;
    }
    io.err(`pql: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}
