/**
 * `npm run bench:analysis`: signal discovery on a generated workspace export (default 10M events) and on a
 * store, beside a DuckDB baseline measured in the same run that reads the same NDJSON with `read_json` and
 * counts events per account x event name. Discovery from the export runs twice: with the DuckDB reader
 * (the default when installed) and with the node line reader. Every phase runs in its own process, so each peak RSS is its own.
 * Results go to bench-results/analysis.json.
 *
 *   node dist/bench/analysis-bench.js [--events 10000000] [--store-events 1000000] [--dir DIR]
 *
 * `--dir` keeps the generated exports there and reuses them on the next run with the same sizes.
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { loadDefinitionsFromPath } from '../config/definition-files.js';
import { generateDemoWorld } from '../demo/demo-world.js';
import { writeWorkspace } from '../demo/write-workspace.js';
import { backtestWorkspace } from '../runtime/backtest.js';
import { Detector } from '../runtime/detector.js';
import type { ExportReader } from '../runtime/load-analysis-data.js';
import { runDiscovery } from '../runtime/run-discovery.js';
import { importWorkspace } from '../sources/import-workspace.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

/** Mean events per demo account at the default volume (measured: 967,446 events over 6,400 accounts). */
const EVENTS_PER_ACCOUNT = 151;
const SEED = 7;
const PACKAGED_DEFINITIONS = fileURLToPath(new URL('../../definitions', import.meta.url));

type Phase = 'duckdb' | 'discover-export' | 'discover-export-node' | 'discover-store' | 'import' | 'backtest';

/** What one phase measured (its own process). */
interface PhaseResult {
  readonly phase: Phase;
  readonly ms: number;
  /** Peak resident set size of the phase's process. */
  readonly maxRssMb: number;
  /** Highest V8 heap use seen (sampled every 50 ms). */
  readonly peakHeapMb: number;
  readonly details: Record<string, unknown>;
}

function flag(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function count(name: string, fallback: number): number {
  const raw = flag(name);
  const n = raw === undefined ? fallback : Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1000)
    throw new Error(`--${name}: expected a whole number >= 1000, got ${raw}`);
  return n;
}

async function measurePhase(phase: Phase, run: () => Promise<Record<string, unknown>>): Promise<PhaseResult> {
  let peakHeap = 0;
  const sampler = setInterval(() => {
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  }, 50);
  const started = performance.now();
  const details = await run();
  const ms = performance.now() - started;
  clearInterval(sampler);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  return {
    phase,
    ms: Math.round(ms),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    peakHeapMb: Math.round(peakHeap / 2 ** 20),
    details,
  };
}

async function duckdbCounts(dir: string): Promise<Record<string, unknown>> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const connection = await instance.connect();
  const path = join(dir, 'events.ndjson').replace(/'/g, "''");
  // The same per-account counts discovery starts from: events per account x (type, name).
  const reader = await connection.runAndReadAll(`
    SELECT count(*) AS pairs, count(DISTINCT account) AS accounts, sum(n) AS events FROM (
      SELECT coalesce(context.groupId, groupId) AS account, type, coalesce(event, name) AS feature, count(*) AS n
      FROM read_json('${path}', format = 'newline_delimited', columns = {
        type: 'VARCHAR', event: 'VARCHAR', name: 'VARCHAR', groupId: 'VARCHAR', userId: 'VARCHAR',
        anonymousId: 'VARCHAR', timestamp: 'TIMESTAMPTZ', context: 'STRUCT(groupId VARCHAR)'
      })
      GROUP BY ALL)`);
  const row = reader.getRowObjects()[0] ?? {};
  connection.closeSync();
  instance.closeSync();
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, Number(v)]));
}

async function discover(
  source: { exportDir: string } | { dataDir: string },
  reader: ExportReader = 'auto',
): Promise<Record<string, unknown>> {
  const run = await runDiscovery(source, { reader });
  const r = run.report;
  return {
    reader: run.load.reader,
    events: run.load.events,
    accounts: r.population.accounts,
    observed: r.population.observed,
    tested: r.tested,
    predictors: r.predictors.length,
    top: r.predictors[0]?.id ?? null,
  };
}

async function importStore(exportDir: string, dataDir: string): Promise<Record<string, unknown>> {
  const loaded = await loadDefinitionsFromPath(PACKAGED_DEFINITIONS);
  if (!loaded.ok) throw new Error('example definitions do not load');
  const store = SqliteStore.open(join(dataDir, 'pql.sqlite'));
  try {
    const detector = await Detector.open(store, loaded.definitions);
    const report = await importWorkspace(exportDir, detector, {
      rejectsDir: join(dataDir, 'rejects'),
      dataDir,
    });
    return { events: report.files.at(-1)?.accepted ?? 0, pqls: report.pqls };
  } finally {
    await store.close();
  }
}

async function backtest(exportDir: string): Promise<Record<string, unknown>> {
  const loaded = await loadDefinitionsFromPath(PACKAGED_DEFINITIONS);
  if (!loaded.ok) throw new Error('example definitions do not load');
  const result = await backtestWorkspace(
    exportDir,
    loaded.definitions.map((d) => d.definition),
  );
  return { events: result.events, pqls: result.transitions.filter((t) => t.kind === 'qualified').length };
}

/** Runs one phase in this process (the child side) and prints its result as the last line. */
async function child(phase: Phase): Promise<void> {
  const dir = flag('dir') as string;
  const result = await measurePhase(phase, () => {
    switch (phase) {
      case 'duckdb':
        return duckdbCounts(dir);
      case 'discover-export':
        return discover({ exportDir: dir }, 'duckdb');
      case 'discover-export-node':
        return discover({ exportDir: dir }, 'node');
      case 'discover-store':
        return discover({ dataDir: flag('data-dir') as string });
      case 'import':
        return importStore(dir, flag('data-dir') as string);
      case 'backtest':
        return backtest(dir);
    }
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(phase: Phase, args: readonly string[]): PhaseResult {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, '--max-old-space-size=8192', script, '--phase', phase, ...args],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  if (child.status !== 0) throw new Error(`phase ${phase} failed with exit ${child.status}`);
  const last = child.stdout.trim().split('\n').at(-1) ?? '';
  const result = JSON.parse(last) as PhaseResult;
  console.log(
    `  ${phase.padEnd(16)} ${(result.ms / 1000).toFixed(1).padStart(7)} s   peak RSS ${String(result.maxRssMb).padStart(6)} MB   heap ${String(result.peakHeapMb).padStart(6)} MB   ${JSON.stringify(result.details)}`,
  );
  return result;
}

/** Writes a demo export of about `events` events into `dir`, unless one of that size is already there. */
async function ensureExport(
  dir: string,
  events: number,
): Promise<{ events: number; bytes: number; ms: number }> {
  const metaPath = join(dir, 'bench-meta.json');
  const accounts = Math.max(10, Math.round(events / EVENTS_PER_ACCOUNT));
  if (existsSync(metaPath)) {
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as {
      accounts: number;
      seed: number;
      events: number;
    };
    if (meta.accounts === accounts && meta.seed === SEED)
      return { events: meta.events, bytes: statSync(join(dir, 'events.ndjson')).size, ms: 0 };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  let written = 0;
  const counts = await writeWorkspace(dir, generateDemoWorld({ seed: SEED, accounts }), (n) => {
    if (n - written >= 1_000_000) {
      written = n;
      process.stderr.write(`  generating: ${n.toLocaleString('en-US')} events\r`);
    }
  });
  const ms = performance.now() - started;
  writeFileSync(metaPath, JSON.stringify({ accounts, seed: SEED, events: counts.events }));
  return { events: counts.events, bytes: statSync(join(dir, 'events.ndjson')).size, ms };
}

/**
 * Reads every file under `dir` once, so that the page cache holds the export before the first timed
 * phase: otherwise whichever phase runs first (the DuckDB baseline) also pays the disk.
 */
function warmPageCache(dir: string): number {
  const started = performance.now();
  const buffer = Buffer.allocUnsafe(1 << 23);
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const fd = openSync(join(entry.parentPath, entry.name), 'r');
    try {
      while (readSync(fd, buffer, 0, buffer.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
  return performance.now() - started;
}

const ratio = (a: PhaseResult, b: PhaseResult): number => Math.round((a.ms / b.ms) * 100) / 100;

async function main(): Promise<void> {
  const phase = flag('phase') as Phase | undefined;
  if (phase !== undefined) return child(phase);

  const events = count('events', 10_000_000);
  const storeEvents = Math.min(events, count('store-events', 1_000_000));
  const root = flag('dir') ?? mkdtempSync(join(tmpdir(), 'pql-analysis-bench-'));
  const keep = flag('dir') !== undefined;
  const bigDir = join(root, `export-${events}`);
  const smallDir = join(root, `export-${storeEvents}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'pql-analysis-bench-store-'));
  try {
    console.log(`generating a demo export of ~${events.toLocaleString('en-US')} events in ${bigDir}`);
    const big = await ensureExport(bigDir, events);
    console.log(`  ${big.events.toLocaleString('en-US')} events, ${(big.bytes / 2 ** 20).toFixed(0)} MB of NDJSON${big.ms > 0 ? `, written in ${(big.ms / 1000).toFixed(1)} s` : ' (reused)'}`); // prettier-ignore
    console.log(`  read once to warm the page cache in ${(warmPageCache(bigDir) / 1000).toFixed(1)} s`);
    console.log(`${big.events.toLocaleString('en-US')} events, each phase in its own process:`);
    const duck = runChild('duckdb', ['--dir', bigDir]);
    const fromExport = runChild('discover-export', ['--dir', bigDir]);
    const byLine = runChild('discover-export-node', ['--dir', bigDir]);
    console.log(`  discover from the export / DuckDB baseline: ${ratio(fromExport, duck)} (target <= 3); with the node reader: ${ratio(byLine, duck)}`); // prettier-ignore

    const small = storeEvents === events ? big : await ensureExport(smallDir, storeEvents);
    const smallExport = storeEvents === events ? bigDir : smallDir;
    console.log(
      `${small.events.toLocaleString('en-US')} events (the store phases; import is the slow part):`,
    );
    warmPageCache(smallExport);
    const smallDuck = storeEvents === events ? duck : runChild('duckdb', ['--dir', smallExport]);
    const smallFromExport = storeEvents === events ? fromExport : runChild('discover-export', ['--dir', smallExport]); // prettier-ignore
    const imported = runChild('import', ['--dir', smallExport, '--data-dir', dataDir]);
    const fromStore = runChild('discover-store', ['--dir', smallExport, '--data-dir', dataDir]);
    const backtested = runChild('backtest', ['--dir', smallExport]);
    console.log(`  discover from the store / DuckDB baseline: ${ratio(fromStore, smallDuck)}; from the export: ${ratio(smallFromExport, smallDuck)}`); // prettier-ignore

    const results = {
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      events: big.events,
      bytes: big.bytes,
      duckdb: duck,
      discoverExport: fromExport,
      discoverExportNodeReader: byLine,
      ratioDiscoverExportToDuckdb: ratio(fromExport, duck),
      ratioDiscoverExportNodeReaderToDuckdb: ratio(byLine, duck),
      target: 'discover from the export <= 3x DuckDB',
      store: {
        events: small.events,
        duckdb: smallDuck,
        discoverExport: smallFromExport,
        import: imported,
        discoverStore: fromStore,
        backtestExport: backtested,
        ratioDiscoverStoreToDuckdb: ratio(fromStore, smallDuck),
        ratioDiscoverExportToDuckdb: ratio(smallFromExport, smallDuck),
      },
    };
    mkdirSync('bench-results', { recursive: true });
    writeFileSync(join('bench-results', 'analysis.json'), `${JSON.stringify(results, null, 2)}\n`);
    console.log('written to bench-results/analysis.json');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
}

await main();
