import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadedDefinition } from '../config/definition-files.js';
import { generateDemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { Detector } from '../runtime/detector.js';
import { importWorkspace } from '../sources/import-workspace.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { formatExplanation, iso, pqlJson } from './format-pql.js';
import type { CliIo } from './main.js';
import { printImportReport } from './main.js';
import { startProgress } from './progress.js';

/** Options of `pql demo`. */
export interface DemoOptions {
  readonly dataDir: string;
  readonly seed: number;
  readonly accounts: number;
  readonly definitions: readonly LoadedDefinition[];
  readonly json: boolean;
}

/** Where `pql demo --serve` keeps the live-editable copy of the example definitions it serves. */
export function demoDefinitionsDir(dataDir: string): string {
  return join(dataDir, 'definitions');
}

/**
 * Generates the seeded demo world, writes it as a workspace export, imports it into a fresh embedded store
 * with the example definitions, and prints the PQLs with their reasons.
 */
export async function runDemo(io: CliIo, options: DemoOptions): Promise<void> {
  const exportDir = join(options.dataDir, 'export');
  const storePath = join(options.dataDir, 'pql.sqlite');
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${storePath}${suffix}`, { force: true });
  // A fresh world: the live CRM and billing copies and the reps of an earlier demo run go too.
  for (const folder of ['crm', 'billing', 'rejects'])
    rmSync(join(options.dataDir, folder), { recursive: true, force: true });

  const world = generateDemoWorld({ seed: options.seed, accounts: options.accounts });
  const writing = startProgress('writing demo world', 0, !options.json);
  const written = await writeWorkspace(exportDir, world, (n) => writing.update(n));
  writing.stop();
  if (!options.json) {
    io.out(
      `Demo world (seed ${options.seed}): ${world.accounts.length} accounts, ${written.events} events, ` +
        `${written.companies} CRM companies, ${written.stripeEvents} Stripe events -> ${exportDir}`,
    );
  }

  const store = SqliteStore.open(storePath);
  try {
    const detector = await Detector.open(store, options.definitions);
    const bar = startProgress('importing events', 0, !options.json);
    const report = await importWorkspace(exportDir, detector, {
      rejectsDir: join(options.dataDir, 'rejects'),
      // Keeps the reps and the CRM and billing sources in the data directory, so `--serve` routes and joins.
      dataDir: options.dataDir,
      onProgress: (_file, read, total) => bar.update(read, total),
    });
    bar.stop();
    const pqls = await store.listPqls({ limit: 100_000 });
    if (options.json) {
      io.out(
        JSON.stringify(
          { pqls: pqls.map(pqlJson), import: { files: report.files, warnings: report.warnings } },
          null,
          2,
        ),
      );
      return;
    }
    printImportReport(io, report);
    const accountNames = new Map(world.accounts.map((a) => [a.accountId, `${a.name} (${a.domain})`]));
    io.out('');
    for (const { definition } of options.definitions) {
      const mine = pqls.filter((p) => p.definitionId === definition.id);
      io.out(`${definition.id} — ${definition.name}: ${mine.length} PQLs`);
      for (const pql of mine.slice(0, 3)) {
        io.out(
          `  ${pql.accountId} ${accountNames.get(pql.accountId) ?? ''} qualified ${iso(pql.qualifiedAt)}`,
        );
        for (const line of formatExplanation(pql.explanation)) io.out(line);
      }
      if (mine.length > 3) io.out(`  ... and ${mine.length - 3} more`);
    }
    io.out('');
    io.out(`Store: ${storePath}   Export: ${exportDir}`);
    io.out(`Try: npx pql backtest --definitions definitions --data ${exportDir}`);
  } finally {
    await store.close();
  }
}
