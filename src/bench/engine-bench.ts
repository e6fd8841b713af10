/**
 * `npm run bench`: engine and import throughput and engine memory, each beside baselines measured in the
 * same run on the same NDJSON lines (bare JSON.parse; a bare Map-lookup-and-increment loop).
 */
import { mkdtempSync, rmSync, writeFileSync, createWriteStream, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createEngine } from '../core/engine/create-engine.js';
import type { ProductEvent } from '../core/events/event.js';
import { parseEvent } from '../core/events/parse-event.js';
import { loadDefinitionsFromPath } from '../config/definition-files.js';
import { generateDemoWorld } from '../demo/demo-world.js';
import { Detector } from '../runtime/detector.js';
import { importWorkspace } from '../sources/import-workspace.js';
import { readLines } from '../sources/read-lines.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { PACKAGED_DEFINITIONS } from '../cli/main.js';

const ACCOUNTS = Number(process.env['BENCH_ACCOUNTS'] ?? 10_000);
const EVENTS_PER_ACCOUNT = Number(process.env['BENCH_EVENTS_PER_ACCOUNT'] ?? 110);

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect !== undefined) for (let i = 0; i < 3; i++) collect();
}

function rate(n: number, ms: number): number {
  return Math.round((n / ms) * 1000);
}

function fmt(n: number): string {
  return n.toLocaleString('en-US');
}

async function main(): Promise<void> {
  const loaded = await loadDefinitionsFromPath(PACKAGED_DEFINITIONS);
  if (!loaded.ok) throw new Error('example definitions do not load');
  const definitions = loaded.definitions.map((d) => d.definition);

  // 1. Data: the demo generator's events in global time order, as NDJSON lines.
  let t = performance.now();
  const lines: string[] = [];
  const world = generateDemoWorld({ accounts: ACCOUNTS, eventsPerAccount: EVENTS_PER_ACCOUNT, seed: 7 });
  for (const message of world.eventsByTime()) {
    lines.push(JSON.stringify(message));
  }
  const generateMs = performance.now() - t;
  const bytes = lines.reduce((sum, l) => sum + l.length + 1, 0);
  console.log(
    `data: ${fmt(lines.length)} events over ${fmt(ACCOUNTS)} accounts, ${definitions.length} definitions ` +
      `(${definitions.map((d) => d.id).join(', ')}), mean ${Math.round(bytes / lines.length)} bytes/line; generated in ${(generateMs / 1000).toFixed(1)} s`,
  );

  // 2. Baseline: bare JSON.parse of the same lines.
  t = performance.now();
  const parsedRaw: unknown[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) parsedRaw[i] = JSON.parse(lines[i] as string);
  const jsonParseRate = rate(lines.length, performance.now() - t);

  // 3. Baseline: a bare Map lookup-and-increment per event (account x event name), on the parsed objects.
  t = performance.now();
  const counts = new Map<string, number>();
  for (const raw of parsedRaw) {
    const m = raw as {
      context?: { groupId?: string };
      groupId?: string;
      event?: string;
      name?: string;
      type: string;
    };
    const key = `${m.context?.groupId ?? m.groupId ?? ''}\u0000${m.event ?? m.name ?? m.type}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const mapRate = rate(parsedRaw.length, performance.now() - t);

  // 4. parseEvent (validation into typed events), not part of the engine figure.
  t = performance.now();
  const events: ProductEvent[] = [];
  let rejected = 0;
  for (const raw of parsedRaw) {
    const parsed = parseEvent(raw);
    if (parsed.ok) events.push(parsed.value);
    else rejected++;
  }
  const parseEventRate = rate(parsedRaw.length, performance.now() - t);
  parsedRaw.length = 0;
  counts.clear();

  // 5. Engine throughput on parsed events, in-process, no I/O.
  gc();
  let engine: ReturnType<typeof createEngine> | undefined = createEngine({ definitions });
  t = performance.now();
  let transitions = 0;
  for (const event of events) transitions += engine.ingest(event).length;
  transitions += engine.tick(events[events.length - 1]?.timestamp ?? 0).length;
  const engineMs = performance.now() - t;
  const engineRate = rate(events.length, engineMs);
  const stats = engine.stats();

  // 6. Import throughput: NDJSON file -> parse -> SQLite (durable, deduped) -> engine -> committed PQLs.
  const dir = mkdtempSync(join(tmpdir(), 'pql-bench-'));
  const exportDir = join(dir, 'export');
  mkdirSync(exportDir);
  const file = createWriteStream(join(exportDir, 'events.ndjson'));
  for (const line of lines)
    if (!file.write(`${line}\n`)) await new Promise<void>((r) => file.once('drain', () => r()));
  await new Promise<void>((resolve) => file.end(resolve));
  // Memory the engine retains: heap with the engine alive and every input dropped, minus heap without it.
  lines.length = 0;
  events.length = 0;
  gc();
  const heapWithEngine = process.memoryUsage().heapUsed;
  // Touch the engine after measuring, so it is provably alive at the measurement.
  if (engine.stats().accounts !== stats.accounts) throw new Error('engine changed');
  engine = undefined;
  gc();
  const heapWithoutEngine = process.memoryUsage().heapUsed;
  const heapDelta = heapWithEngine - heapWithoutEngine;
  const bytesPerAccountPerDefinition = heapDelta / stats.accounts / definitions.length;
  t = performance.now();
  let streamed = 0;
  for await (const chunk of readLines(join(exportDir, 'events.ndjson'))) {
    for (const line of chunk.lines) {
      JSON.parse(line);
      streamed++;
    }
  }
  const streamedParseRate = rate(streamed, performance.now() - t);
  const store = SqliteStore.open(join(dir, 'data', 'pql.sqlite'));
  const detector = await Detector.open(store, loaded.definitions);
  t = performance.now();
  const report = await importWorkspace(exportDir, detector, { rejectsDir: join(dir, 'rejects') });
  const importMs = performance.now() - t;
  const importRate = rate(report.files[0]?.accepted ?? 0, importMs);
  await store.close();
  rmSync(dir, { recursive: true, force: true });

  const results = {
    events: stats.events,
    accounts: stats.accounts,
    definitions: definitions.length,
    rejected,
    baselines: {
      jsonParsePerSec: jsonParseRate,
      streamedJsonParsePerSec: streamedParseRate,
      mapIncrementPerSec: mapRate,
    },
    parseEventPerSec: parseEventRate,
    engine: {
      eventsPerSec: engineRate,
      ratioToJsonParse: +(engineRate / jsonParseRate).toFixed(2),
      transitions,
      pqls: stats.qualified,
      heapBytesPerAccountPerDefinition: Math.round(bytesPerAccountPerDefinition),
    },
    import: {
      eventsPerSec: importRate,
      ratioToJsonParse: +(importRate / jsonParseRate).toFixed(2),
      pqls: report.pqls,
      seconds: +(importMs / 1000).toFixed(1),
    },
  };
  console.log('');
  console.log('measure                                   events/s    vs bare JSON.parse   target');
  const row = (name: string, value: number, target: string): void =>
    console.log(
      `${name.padEnd(40)} ${fmt(value).padStart(10)}    ${(value / jsonParseRate).toFixed(2).padStart(6)}x            ${target}`,
    );
  row('baseline: bare JSON.parse (in memory)', jsonParseRate, '');
  row('baseline: JSON.parse streamed from file', streamedParseRate, '');
  row('baseline: Map lookup-and-increment', mapRate, '');
  row('parseEvent (validation, typed events)', parseEventRate, '');
  row('engine (3 definitions, in-process)', engineRate, '>= 2.00x');
  row('import NDJSON -> SQLite -> engine', importRate, '>= 0.50x');
  console.log('');
  console.log(
    `engine memory: ${fmt(Math.round(bytesPerAccountPerDefinition))} bytes per account per definition ` +
      `(heap retained by the engine: ${fmt(Math.round(heapDelta / 1e6))} MB over ${fmt(stats.accounts)} accounts, identity and dedupe included; target < 2,048)`,
  );
  console.log(`PQLs: engine ${fmt(stats.qualified)}, import ${fmt(report.pqls)}`);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(join('bench-results', 'engine.json'), `${JSON.stringify(results, null, 2)}\n`);
}

await main();
