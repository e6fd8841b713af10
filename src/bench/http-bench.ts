/**
 * `npm run bench:http`: the ingest server under autocannon (batches of 100 events, durable commit), beside
 * a bare Node HTTP server that parses and discards the same batches, in the same run. Reports events/s,
 * ack latency p50/p99, and event-to-detection latency p50/p99 (request receipt to committed PQL), at full
 * speed and at a fixed 10,000 events/s. Results go to bench-results/http.json.
 *
 * Environment: BENCH_BATCHES (2000), BENCH_CONNECTIONS (20), BENCH_PACE_MS (10 ms between paced batches
 * of 100, i.e. 10,000 events/s), BENCH_WAL_PAGES (the store's walAutocheckpointPages; SQLite's 1000 if unset).
 *
 * The load generator runs in this process too (2 cores): both servers pay the same client cost.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer as createHttpServer, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadDefinitionsFromPath, type LoadedDefinition } from '../config/definition-files.js';
import { createServerConfig } from '../config/server-config.js';
import { createServer } from '../http/create-server.js';
import { Detector } from '../runtime/detector.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { PACKAGED_DEFINITIONS } from '../cli/main.js';

interface AutocannonResult {
  readonly latency: { readonly p50: number; readonly p99: number };
  readonly requests: { readonly total: number };
  readonly duration: number;
  readonly non2xx: number;
  readonly errors: number;
}
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const BATCHES = Number(process.env['BENCH_BATCHES'] ?? 2000);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 20);
/** Milliseconds between paced batches of 100: 10 is 10,000 events/s. */
const PACE_MS = Number(process.env['BENCH_PACE_MS'] ?? 10);
const WAL_PAGES =
  process.env['BENCH_WAL_PAGES'] === undefined ? undefined : Number(process.env['BENCH_WAL_PAGES']);
const WRITE_KEY = 'bench_write_key';
const API_ACTIVE = `id: api-active
name: API active
signals:
  calls: { event: API Call Made, count: { gte: 3 } }
qualify: { all: [calls] }
`;

/** Batches of 100 Segment messages with unique ids; each account gets 6 events, 3 of them API calls. */
function makeBatches(run: string, count: number): Buffer[] {
  const now = new Date().toISOString();
  const batches: Buffer[] = [];
  let i = 0;
  for (let b = 0; b < count; b++) {
    const batch = [];
    for (let k = 0; k < 100; k++, i++) {
      const account = `${run}_acc_${Math.floor(i / 6)}`;
      batch.push({
        type: 'track',
        messageId: `${run}-${i}`,
        userId: `${account}_u${i % 2}`,
        event: i % 2 === 0 ? 'API Call Made' : 'Events Processed',
        properties: { count: 100, endpoint: '/v1/items' },
        timestamp: now,
        context: { groupId: account, library: { name: 'bench', version: '1' } },
      });
    }
    batches.push(Buffer.from(JSON.stringify({ batch, sentAt: now })));
  }
  return batches;
}

async function load(url: string, batches: Buffer[]): Promise<AutocannonResult> {
  let next = 0;
  return autocannon({
    url,
    connections: CONNECTIONS,
    amount: batches.length,
    requests: [
      {
        method: 'POST',
        path: '/v1/batch',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
        },
        setupRequest: (request: AutocannonRequest) => {
          request.body = batches[next++ % batches.length] as Buffer;
          return request;
        },
      },
    ],
  });
}

/**
 * Sends one batch every `intervalMs` (10 ms = 10,000 events/s) over keep-alive connections, each request
 * on its own, so the latencies are those of a steady rate, not of the bursts autocannon's rate limit makes.
 */
async function paced(url: string, batches: Buffer[], intervalMs: number): Promise<AutocannonResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const { hostname, port } = new URL(url);
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const started = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < batches.length; i++) {
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    const body = batches[i] as Buffer;
    const sentAt = performance.now();
    sends.push(
      new Promise<void>((resolve) => {
        const request = httpRequest(
          {
            agent,
            hostname,
            port,
            method: 'POST',
            path: '/v1/batch',
            headers: {
              'content-type': 'application/json',
              'content-length': body.length,
              authorization: `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`,
            },
          },
          (response) => {
            response.resume();
            response.on('end', () => {
              latencies.push(performance.now() - sentAt);
              if ((response.statusCode ?? 0) >= 300) non2xx++;
              resolve();
            });
          },
        );
        request.on('error', () => {
          errors++;
          resolve();
        });
        request.end(body);
      }),
    );
  }
  await Promise.all(sends);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const round = (n: number | null): number => Math.round((n ?? 0) * 10) / 10;
  return {
    latency: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)) },
    requests: { total: latencies.length },
    duration: (performance.now() - started) / 1000,
    non2xx,
    errors,
  };
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function bare(batches: Buffer[]): Promise<Record<string, unknown>> {
  const server = createHttpServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { batch: unknown[] };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ success: true, accepted: body.batch.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const result = await load(`http://127.0.0.1:${port}`, batches);
  await new Promise((resolve) => server.close(resolve));
  return summarize(result);
}

function summarize(result: AutocannonResult): Record<string, unknown> {
  return {
    eventsPerSecond: Math.round((result.requests.total * 100) / result.duration),
    ackLatencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function pql(
  definitions: readonly LoadedDefinition[],
  batches: Buffer[],
  intervalMs?: number,
): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'pql-http-bench-'));
  const store = SqliteStore.open(join(dir, 'pql.sqlite'), {
    ...(WAL_PAGES === undefined ? {} : { walAutocheckpointPages: WAL_PAGES }),
  });
  try {
    const detector = await Detector.open(store, definitions);
    const config = createServerConfig({
      dataDir: dir,
      writeKeys: [WRITE_KEY],
      adminToken: 'bench_admin',
      maxQueuedEvents: 1_000_000,
    });
    const server = createServer({ detector, config, logger: pino({ level: 'warn' }) });
    const detection: number[] = [];
    server.bus.subscribe((published) => {
      for (const p of published) {
        if (p.transition.kind === 'qualified' && p.receivedAt !== undefined)
          detection.push(p.detectedAt - p.receivedAt);
      }
    });
    const url = await server.listen(0, '127.0.0.1');
    const result =
      intervalMs === undefined ? await load(url, batches) : await paced(url, batches, intervalMs);
    await server.close();
    detection.sort((a, b) => a - b);
    return {
      ...summarize(result),
      stored: await store.countEvents(),
      pqls: detection.length,
      detectionLatencyMs: { p50: percentile(detection, 50), p99: percentile(detection, 99) },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const examples = await loadDefinitionsFromPath(PACKAGED_DEFINITIONS);
  const defsDir = mkdtempSync(join(tmpdir(), 'pql-http-bench-defs-'));
  writeFileSync(join(defsDir, 'api-active.yaml'), API_ACTIVE);
  const extra = await loadDefinitionsFromPath(defsDir);
  rmSync(defsDir, { recursive: true, force: true });
  if (!examples.ok || !extra.ok) throw new Error('definitions do not load');
  const definitions = [...examples.definitions, ...extra.definitions];

  console.log(
    `${BATCHES} batches of 100 events, ${CONNECTIONS} connections, ${definitions.length} definitions`,
  );
  const bareResult = await bare(makeBatches('bare', BATCHES));
  console.log('bare node server (parse and discard):', JSON.stringify(bareResult));
  const full = await pql(definitions, makeBatches('full', BATCHES));
  console.log('pql serve, full speed:', JSON.stringify(full));
  const fixedBatches = Math.min(BATCHES, 1000);
  const pacedRate = Math.round(100_000 / PACE_MS);
  const paced = await pql(definitions, makeBatches('rate', fixedBatches), PACE_MS);
  console.log(`pql serve paced at ${pacedRate.toLocaleString('en-US')} events/s:`, JSON.stringify(paced));
  const bareRate = bareResult['eventsPerSecond'] as number;
  const fullRate = full['eventsPerSecond'] as number;
  const report = {
    machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
    batches: BATCHES,
    connections: CONNECTIONS,
    bare: bareResult,
    pqlFullSpeed: { ...full, vsBare: Math.round((fullRate / bareRate) * 100) / 100 },
    pqlPaced: { offeredEventsPerSecond: pacedRate, ...paced },
    walAutocheckpointPages: WAL_PAGES ?? 'default (1000)',
    targets: { vsBare: 0.25, detectionP99MsAt10k: 10 },
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(join('bench-results', 'http.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `pql/bare events/s: ${report.pqlFullSpeed.vsBare} (target 0.25); written to bench-results/http.json`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
