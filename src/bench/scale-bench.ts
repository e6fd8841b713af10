/**
 * `npm run bench:scale`: the scale-out deployment (1 ingest node, P = 8 partitions, NATS JetStream, a shared
 * PostgreSQL store) with 1 and then 2 workers, beside the single-process embedded server (`pql serve`,
 * SQLite, no NATS) as the baseline, all in one run on the same time-ordered demo events posted to
 * `/v1/batch` by this process. Every server is the built CLI (`node bin/pql.js`), one child process each.
 *
 * For each deployment: events/s acknowledged by the ingest API, and events/s end to end (first request to
 * every partition drained; the embedded server acknowledges only after detection, so both are one number
 * there); detection latency of every qualified transition received on the deployment's NATS live-PQL bus
 * (`detectedAt` of the worker's commit minus the ingest node's `Pql-Received-At`, both wall-clock ms on
 * this machine), at full speed (backlog) and in a paced run at a modest rate; and where the CPU went. Each
 * scale-out phase gets a fresh stream name, subject prefix and PostgreSQL schema, deleted afterwards.
 * Results go to bench-results/scale.json.
 *
 * Flags: `--events N` (default 100000), `--rate N` (paced events/s, default 2000), `--paced-seconds N`
 * (default 10), `--concurrency N` (requests in flight at full speed, default 4).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsBus } from '../bus/nats/nats-bus.js';
import type { PublishedTransition } from '../bus/pql-bus.js';
import { openStore } from '../store/open-store.js';
import {
  TEST_POSTGRES_URL,
  TestSchemas,
  postgresUnavailableReason,
} from '../store/postgres/postgres-test-database.js';
import { DEMO_SEED, demoAccountsFor, timeOrderedDemoMessages } from '../stream/cluster-reference.js';
import { ownerOf } from '../stream/partitioning.js';
import {
  TEST_NATS_URL,
  natsUnavailableReason,
  postSegmentBatches,
  spawnPql,
  waitForDrained,
  type PqlProcess,
} from '../stream/scale-out-cluster.js';

const { values: flags } = parseArgs({
  options: {
    events: { type: 'string', default: '100000' },
    rate: { type: 'string', default: '2000' },
    'paced-seconds': { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '4' },
  },
});
const EVENTS = Number(flags.events);
const PACED_RATE = Number(flags.rate);
const PACED_SECONDS = Number(flags['paced-seconds']);
const CONCURRENCY = Number(flags.concurrency);
const PARTITIONS = 8;
const BATCH = 500;
/** Paced requests carry 100 events each: 20 requests/s at 2,000 events/s. */
const PACED_BATCH = 100;
const WRITE_KEY = 'wk_scale_bench';
const ADMIN_TOKEN = 'admin_scale_bench';
const ROOT = resolve(import.meta.dirname, '../..');
const DEFINITIONS = join(ROOT, 'definitions');
const DRAIN_TIMEOUT_MS = 240_000;

/** Latency percentiles of one run, in ms. */
interface LatencyStats {
  readonly count: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

/** CPU seconds each part used during one run, and what the whole machine did meanwhile. */
interface CpuSplit {
  readonly wallSeconds: number;
  readonly client: number;
  readonly ingest: number;
  readonly workers: number;
  readonly nats: number | null;
  readonly postgres: number | null;
  /** Busy CPU seconds of the whole machine (all processes, ours and others'). */
  readonly machine: number | null;
}

/** One deployment's results. */
interface PhaseResult {
  readonly name: string;
  readonly workers: number;
  readonly events: number;
  readonly ackEventsPerSecond: number;
  readonly endToEndEventsPerSecond: number;
  readonly ackSeconds: number;
  readonly endToEndSeconds: number;
  readonly retries: number;
  readonly storedEvents: number;
  readonly pqls: number;
  readonly cpu: CpuSplit;
  /** detectedAt − receivedAt of qualified transitions at full speed (undefined for the embedded server). */
  readonly detectionFullSpeedMs?: LatencyStats;
  /** The same in the paced run. */
  readonly detectionPacedMs?: LatencyStats;
  /** Arrival at this process's NATS subscriber − receivedAt, paced run. */
  readonly busArrivalPacedMs?: LatencyStats;
  /** Request sent to response received, paced run (the embedded server answers after detection). */
  readonly pacedAckMs: LatencyStats;
  readonly pacedEventsPerSecond: number;
  /** Qualified transitions published without a receipt time (ticks), not in the latency figures. */
  readonly qualifiedWithoutReceipt?: number;
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function stats(values: readonly number[]): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  const round = (n: number | null): number | null => (n === null ? null : Math.round(n * 10) / 10);
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? null),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Posts `messages` at `perSecond` in requests of PACED_BATCH, each sent on schedule without waiting for
 * earlier answers; returns the request latencies and the achieved rate.
 */
async function postPaced(
  baseUrl: string,
  messages: readonly unknown[],
  perSecond: number,
): Promise<{ latenciesMs: number[]; eventsPerSecond: number }> {
  const authorization = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
  const intervalMs = (PACED_BATCH / perSecond) * 1000;
  const latenciesMs: number[] = [];
  const sends: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i * PACED_BATCH < messages.length; i++) {
    const wait = started + i * intervalMs - performance.now();
    if (wait > 1) await sleep(wait);
    const batch = messages.slice(i * PACED_BATCH, (i + 1) * PACED_BATCH);
    const sentAt = performance.now();
    sends.push(
      fetch(`${baseUrl}/v1/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ batch }),
      }).then(async (response) => {
        await response.arrayBuffer();
        if (!response.ok) throw new Error(`POST /v1/batch (paced): ${response.status}`);
        latenciesMs.push(performance.now() - sentAt);
      }),
    );
  }
  await Promise.all(sends);
  return {
    latenciesMs,
    eventsPerSecond: Math.round(messages.length / ((performance.now() - started) / 1000)),
  };
}

/** utime + stime (+ reaped children's) of a process in seconds, or 0 once it is gone. */
function processCpuSeconds(pid: number, withChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesized command: state is [0], utime [11], stime [12], cutime [13], cstime [14].
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const own = (fields[11] ?? 0) + (fields[12] ?? 0);
    const children = withChildren ? (fields[13] ?? 0) + (fields[14] ?? 0) : 0;
    return (own + children) / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Processes on this host whose command line matches `test`. */
function pidsWhere(test: (command: string, cmdline: string) => boolean): number[] {
  const pids: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return pids;
  }
  for (const entry of entries) {
    try {
      const command = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (test(command, cmdline)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat; null off Linux. */
function machineBusySeconds(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
  } catch {
    return null;
  }
}

/**
 * Samples CPU seconds of this client, the pql children, the NATS server on the bench's port and every
 * PostgreSQL process on this host (the postmaster's reaped children included, so backends that exit
 * meanwhile still count). PostgreSQL and the machine total include other users of this host.
 */
function cpuMeter(ingest: PqlProcess, workers: readonly PqlProcess[]): () => CpuSplit {
  const natsPort = new URL(TEST_NATS_URL).port || '4222';
  const natsPids = pidsWhere((c, line) => c === 'nats-server' && line.includes(natsPort));
  const postgresPids = (): number[] => pidsWhere((c) => c === 'postgres' || c.startsWith('postgres:'));
  const sum = (pids: readonly number[], withChildren = false): number =>
    pids.reduce((total, pid) => total + processCpuSeconds(pid, withChildren), 0);
  const sample = () => ({
    wall: performance.now(),
    client: process.cpuUsage(),
    ingest: processCpuSeconds(ingest.child.pid ?? 0),
    workers: sum(workers.map((w) => w.child.pid ?? 0)),
    nats: natsPids.length === 0 ? null : sum(natsPids),
    postgres: postgresPids().length === 0 ? null : sum(postgresPids(), true),
    machine: machineBusySeconds(),
  });
  const before = sample();
  return () => {
    const after = sample();
    const client = process.cpuUsage(before.client);
    const delta = (a: number | null, b: number | null): number | null =>
      a === null || b === null ? null : Math.round((b - a) * 10) / 10;
    return {
      wallSeconds: Math.round((after.wall - before.wall) / 100) / 10,
      client: Math.round((client.user + client.system) / 100_000) / 10,
      ingest: Math.round((after.ingest - before.ingest) * 10) / 10,
      workers: Math.round((after.workers - before.workers) * 10) / 10,
      nats: delta(before.nats, after.nats),
      postgres: delta(before.postgres, after.postgres),
      machine: delta(before.machine, after.machine),
    };
  };
}

/** Sends SIGTERM and waits up to `ms` for a graceful exit, then SIGKILL. */
async function stop(process_: PqlProcess, ms = 20_000): Promise<void> {
  const timer = setTimeout(() => void process_.kill('SIGKILL'), ms);
  await process_.kill('SIGTERM');
  clearTimeout(timer);
}

/** Resolves once every lease of the stream is held by the worker rendezvous hashing assigns it to. */
async function waitForBalancedLeases(stream: string, workerIds: readonly string[]): Promise<void> {
  const { Kvm } = await import('@nats-io/kv');
  const connection = await connect({ servers: TEST_NATS_URL });
  try {
    const deadline = Date.now() + 60_000;
    const kv = await new Kvm(connection).open(`${stream}_leases`);
    for (;;) {
      let balanced = true;
      for (let p = 0; p < PARTITIONS && balanced; p++) {
        for (const unit of [`user.${p}`, `acct.${p}`]) {
          const entry = await kv.get(`lease.${unit}`);
          const holder = entry?.operation === 'PUT' ? entry.string() : undefined;
          if (holder !== ownerOf(unit, workerIds)) balanced = false;
        }
      }
      if (balanced) return;
      if (Date.now() > deadline)
        throw new Error(`leases of ${stream} not balanced over ${workerIds.join(',')}`);
      await sleep(250);
    }
  } finally {
    await connection.close();
  }
}

/**
 * Looks at both streams every `everyMs` until stopped, and tells when the pipeline last became quiet: no
 * consumer with anything pending or unacknowledged, and neither stream grown since the look before.
 * `waitForDrained` confirms the drain; this dates it to within one look rather than its settle rounds.
 */
function watchQuiet(stream: string, everyMs = 250): { quietSince(): Promise<number | undefined> } {
  let stopped = false;
  let since: number | undefined;
  const running = (async () => {
    const connection = await connect({ servers: TEST_NATS_URL });
    try {
      const jsm = await jetstreamManager(connection);
      let lastSeqs = '';
      while (!stopped) {
        const at = performance.now();
        let busy = false;
        const seqs: number[] = [];
        for (const name of [stream, `${stream}_ACCT`]) {
          seqs.push((await jsm.streams.info(name)).state.last_seq);
          for await (const info of jsm.consumers.list(name)) {
            if ((info as typeof info | null) === null) continue;
            if (info.num_pending > 0 || info.num_ack_pending > 0) busy = true;
          }
        }
        const key = seqs.join(',');
        if (busy || key !== lastSeqs) since = undefined;
        else since ??= at;
        lastSeqs = key;
        await sleep(everyMs);
      }
    } finally {
      await connection.close();
    }
  })();
  return {
    async quietSince() {
      stopped = true;
      await running;
      return since;
    },
  };
}

/** Deletes the phase's streams and lease bucket from NATS. */
async function deleteStreams(stream: string): Promise<void> {
  const connection = await connect({ servers: TEST_NATS_URL });
  try {
    const jsm = await jetstreamManager(connection);
    for (const name of [stream, `${stream}_ACCT`, `KV_${stream}_leases`]) {
      await jsm.streams.delete(name).catch(() => false);
    }
  } finally {
    await connection.close();
  }
}

/** Counts stored events and PQLs in a store the phase's servers wrote. */
async function countStored(spec: {
  dataDir: string;
  store?: string;
}): Promise<{ events: number; pqls: number }> {
  const store = await openStore(spec);
  try {
    return { events: await store.countEvents(), pqls: (await store.listPqls()).length };
  } finally {
    await store.close();
  }
}

const baseEnv = (dataDir: string): Record<string, string> => ({
  PQL_DATA_DIR: dataDir,
  PQL_DEFINITIONS: DEFINITIONS,
  PQL_WRITE_KEYS: WRITE_KEY,
  PQL_ADMIN_TOKEN: ADMIN_TOKEN,
  PQL_RATE_LIMIT: '0',
  // Per-request info logs would cost CPU the deployments share with the load (http-bench does the same).
  PQL_LOG_LEVEL: 'warn',
});

/** The baseline: `pql serve` (role all), SQLite in a temporary data dir, no NATS. */
async function runEmbedded(load: readonly unknown[], paced: readonly unknown[]): Promise<PhaseResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pql-scale-bench-'));
  const server = spawnPql(
    ['serve', '--port', '0', '--host', '127.0.0.1'],
    { ...baseEnv(dataDir), PQL_STORE: 'sqlite' },
    { fromBuild: true },
  );
  try {
    const url = /listening on (\S+)/.exec(await server.waitFor(/listening on/, 60_000))?.[1] as string;
    const meter = cpuMeter(server, []);
    const started = performance.now();
    const posted = await postSegmentBatches(url, WRITE_KEY, load, {
      batchSize: BATCH,
      concurrency: CONCURRENCY,
    });
    const seconds = (performance.now() - started) / 1000;
    const cpu = meter();
    const pacedRun = await postPaced(url, paced, PACED_RATE);
    await stop(server);
    const stored = await countStored({ dataDir, store: 'sqlite' });
    const rate = Math.round(load.length / seconds);
    return {
      name: 'embedded (pql serve, SQLite, 1 process)',
      workers: 0,
      events: load.length,
      ackEventsPerSecond: rate,
      endToEndEventsPerSecond: rate,
      ackSeconds: Math.round(seconds * 10) / 10,
      endToEndSeconds: Math.round(seconds * 10) / 10,
      retries: posted.retries,
      storedEvents: stored.events,
      pqls: stored.pqls,
      cpu,
      pacedAckMs: stats(pacedRun.latenciesMs),
      pacedEventsPerSecond: pacedRun.eventsPerSecond,
    };
  } catch (error) {
    console.error(server.output().slice(-3000));
    throw error;
  } finally {
    await server.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** 1 ingest node and `workerCount` workers on a fresh stream, subject prefix and schema. */
async function runScaleOut(
  workerCount: number,
  schemas: TestSchemas,
  load: readonly unknown[],
  paced: readonly unknown[],
): Promise<PhaseResult> {
  const tag = `${process.pid}_${Date.now().toString(36)}_w${workerCount}`;
  const stream = `PQLBENCH_${tag}`;
  const subjectPrefix = `pqlbench_${tag}`;
  const storeUrl = `${TEST_POSTGRES_URL}?schema=${schemas.next()}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'pql-scale-bench-'));
  const env = {
    ...baseEnv(dataDir),
    PQL_STORE: storeUrl,
    PQL_NATS_URL: TEST_NATS_URL,
    PQL_STREAM: stream,
    PQL_SUBJECT_PREFIX: subjectPrefix,
    PQL_PARTITIONS: String(PARTITIONS),
  };
  const processes: PqlProcess[] = [];
  let bus: NatsBus | undefined;
  try {
    const ingest = spawnPql(['serve', '--role', 'ingest', '--port', '0', '--host', '127.0.0.1'], env, {
      fromBuild: true,
    });
    processes.push(ingest);
    const url = /listening on (\S+)/.exec(await ingest.waitFor(/listening on/, 60_000))?.[1] as string;
    const workerIds = Array.from({ length: workerCount }, (_, i) => `w${i + 1}`);
    const workers = workerIds.map((id) =>
      spawnPql(['serve', '--role', 'worker'], { ...env, PQL_WORKER_ID: id }, { fromBuild: true }),
    );
    processes.push(...workers);
    await Promise.all(workers.map((w) => w.waitFor(/pql worker/, 60_000)));
    await waitForBalancedLeases(stream, workerIds);

    // The bench listens on the deployment's live-PQL bus as any node would.
    const fullSpeed: number[] = [];
    const pacedDetection: number[] = [];
    const pacedArrival: number[] = [];
    let phase: 'full' | 'paced' = 'full';
    let withoutReceipt = 0;
    bus = await NatsBus.connect({ servers: TEST_NATS_URL, subjectPrefix, nodeId: 'scale-bench' });
    bus.subscribe((published: readonly PublishedTransition[]) => {
      const arrivedAt = Date.now();
      for (const p of published) {
        if (p.transition.kind !== 'qualified') continue;
        if (p.receivedAt === undefined) {
          withoutReceipt++;
          continue;
        }
        if (phase === 'full') fullSpeed.push(p.detectedAt - p.receivedAt);
        else {
          pacedDetection.push(p.detectedAt - p.receivedAt);
          pacedArrival.push(arrivedAt - p.receivedAt);
        }
      }
    });

    const meter = cpuMeter(ingest, workers);
    const quiet = watchQuiet(stream);
    const started = performance.now();
    const posted = await postSegmentBatches(url, WRITE_KEY, load, {
      batchSize: BATCH,
      concurrency: CONCURRENCY,
    });
    const acknowledged = performance.now();
    await waitForDrained(TEST_NATS_URL, stream, PARTITIONS, DRAIN_TIMEOUT_MS, 500);
    const drained = (await quiet.quietSince()) ?? performance.now();
    const cpu = meter();
    // Bus messages of the last commits may still be on their way.
    await sleep(500);
    phase = 'paced';
    const pacedRun = await postPaced(url, paced, PACED_RATE);
    await waitForDrained(TEST_NATS_URL, stream, PARTITIONS, DRAIN_TIMEOUT_MS, 500);
    await sleep(500);
    await bus.close();
    bus = undefined;
    for (const p of processes) await stop(p);
    const stored = await countStored({ dataDir, store: storeUrl });

    const ackSeconds = (acknowledged - started) / 1000;
    const endToEndSeconds = (Math.max(drained, acknowledged) - started) / 1000;
    return {
      name: `scale-out, ${workerCount} worker${workerCount === 1 ? '' : 's'}`,
      workers: workerCount,
      events: load.length,
      ackEventsPerSecond: Math.round(load.length / ackSeconds),
      endToEndEventsPerSecond: Math.round(load.length / endToEndSeconds),
      ackSeconds: Math.round(ackSeconds * 10) / 10,
      endToEndSeconds: Math.round(endToEndSeconds * 10) / 10,
      retries: posted.retries,
      storedEvents: stored.events,
      pqls: stored.pqls,
      cpu,
      detectionFullSpeedMs: stats(fullSpeed),
      detectionPacedMs: stats(pacedDetection),
      busArrivalPacedMs: stats(pacedArrival),
      pacedAckMs: stats(pacedRun.latenciesMs),
      pacedEventsPerSecond: pacedRun.eventsPerSecond,
      qualifiedWithoutReceipt: withoutReceipt,
    };
  } catch (error) {
    for (const [i, p] of processes.entries()) console.error(`process ${i}:\n${p.output().slice(-2000)}`);
    throw error;
  } finally {
    await bus?.close().catch(() => {});
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await deleteStreams(stream);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const n = (value: number | null | undefined): string =>
  value === null || value === undefined ? 'n/a' : value.toLocaleString('en-US');
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

function table(header: readonly string[], rows: readonly (readonly string[])[], right: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const cell = (text: string, i: number) =>
    i >= right ? text.padStart(widths[i] ?? 0) : text.padEnd(widths[i] ?? 0);
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (i >= right ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const unavailable = (await postgresUnavailableReason()) ?? (await natsUnavailableReason());
  if (unavailable !== undefined) {
    throw new Error(
      `${unavailable}; bench:scale needs PostgreSQL (PQL_TEST_POSTGRES_URL) and NATS JetStream (PQL_TEST_NATS_URL)`,
    );
  }
  const pacedCount = PACED_RATE * PACED_SECONDS;
  const messages = timeOrderedDemoMessages(EVENTS + pacedCount);
  const accounts = demoAccountsFor(EVENTS + pacedCount);
  const load = messages.slice(0, EVENTS);
  const paced = messages.slice(EVENTS);
  const load1 = loadavg()[0]?.toFixed(2) ?? 'n/a';
  console.log(
    `bench:scale — ${n(EVENTS)} demo events (seed ${DEMO_SEED}, ${n(accounts)} accounts, global time order, the ` +
      `3 example definitions) posted to /v1/batch in batches of ${BATCH}, ${CONCURRENCY} requests in flight; ` +
      `then ${n(pacedCount)} later events paced at ${n(PACED_RATE)} events/s (requests of ${PACED_BATCH}). ` +
      `Baseline: the embedded single process (pql serve, SQLite, no NATS) on the same events. Scale-out: ` +
      `1 ingest node + 1, then 2 workers, P = ${PARTITIONS}, NATS JetStream ${TEST_NATS_URL}, PostgreSQL ` +
      `${TEST_POSTGRES_URL.replace(/:[^:@/]*@/, ':***@')} (fresh schema per phase). Every server is node bin/pql.js; ` +
      `the client is this process. Machine: ${cpus().length} CPUs, node ${process.version}, load average ${load1} at start.`,
  );

  const schemas = new TestSchemas();
  const phases: PhaseResult[] = [];
  try {
    const report = (p: PhaseResult) =>
      console.log(
        `  ${p.name}: ${n(p.events)} events acknowledged in ${p.ackSeconds} s, processed in ${p.endToEndSeconds} s; ` +
          `${n(p.storedEvents)} events stored, ${n(p.pqls)} PQLs, ${p.retries} retried requests`,
      );
    phases.push(await runEmbedded(load, paced));
    report(phases[0] as PhaseResult);
    for (const workers of [1, 2]) {
      phases.push(await runScaleOut(workers, schemas, load, paced));
      report(phases.at(-1) as PhaseResult);
    }
  } finally {
    await schemas.dropAll();
  }
  const [embedded, one, two] = phases as [PhaseResult, PhaseResult, PhaseResult];
  const base = embedded.endToEndEventsPerSecond;

  console.log('\nThroughput (events/s; "vs embedded" divides by the single-process embedded server):\n');
  console.log(
    table(
      ['measure', 'events/s', 'vs single-process embedded'],
      [
        ['embedded single process, acked (= detected)', n(base), '1.00x'],
        ...[one, two].flatMap((p) => [
          [`${p.name}: ingest acknowledged`, n(p.ackEventsPerSecond), ratio(p.ackEventsPerSecond, base)],
          [
            `${p.name}: end to end (drained)`,
            n(p.endToEndEventsPerSecond),
            ratio(p.endToEndEventsPerSecond, base),
          ],
        ]),
      ],
      1,
    ),
  );

  const latencyRow = (label: string, s: LatencyStats | undefined): string[] => [
    label,
    n(s?.count),
    n(s?.p50),
    n(s?.p99),
    n(s?.max),
  ];
  console.log(
    '\nDetection latency (ms) of qualified transitions on the NATS live-PQL bus: detectedAt (worker commit)' +
      ' − Pql-Received-At (ingest node receipt); the engine stamps a batch with its earliest receipt, so this' +
      ' is the oldest event of the committing batch, an upper bound for the triggering one (n: PQLs; for the' +
      ' request ack rows, requests):\n',
  );
  console.log(
    table(
      ['run', 'n', 'p50', 'p99', 'max'],
      [
        latencyRow(`1 worker, full speed (backlog)`, one.detectionFullSpeedMs),
        latencyRow(`1 worker, paced ${n(PACED_RATE)}/s`, one.detectionPacedMs),
        latencyRow(`1 worker, paced, until the bench's bus subscriber`, one.busArrivalPacedMs),
        latencyRow(`2 workers, full speed (backlog)`, two.detectionFullSpeedMs),
        latencyRow(`2 workers, paced ${n(PACED_RATE)}/s`, two.detectionPacedMs),
        latencyRow(`2 workers, paced, until the bench's bus subscriber`, two.busArrivalPacedMs),
        latencyRow(`embedded, paced ${n(PACED_RATE)}/s: request ack (after detection)`, embedded.pacedAckMs),
        latencyRow(`1 worker, paced: request ack (JetStream stored)`, one.pacedAckMs),
        latencyRow(`2 workers, paced: request ack (JetStream stored)`, two.pacedAckMs),
      ],
      1,
    ),
  );

  console.log('\nCPU seconds during the full-speed run (2 cores = 2 CPU seconds per wall second):\n');
  console.log(
    table(
      ['deployment', 'wall s', 'client', 'pql ingest', 'pql workers', 'nats', 'postgres*', 'machine*'],
      phases.map((p) => [
        p.name,
        String(p.cpu.wallSeconds),
        String(p.cpu.client),
        String(p.cpu.ingest),
        p.workers === 0 ? '-' : String(p.cpu.workers),
        n(p.cpu.nats),
        n(p.cpu.postgres),
        n(p.cpu.machine),
      ]),
      1,
    ),
  );
  console.log(
    '* every PostgreSQL process on this host and the whole machine: other users of the host count too.',
  );

  const scaling = two.endToEndEventsPerSecond / one.endToEndEventsPerSecond;
  const busy = (p: PhaseResult) =>
    p.cpu.machine === null ? 'n/a' : `${Math.round((p.cpu.machine / p.cpu.wallSeconds) * 50)}%`;
  const samePqls = new Set(phases.map((p) => p.pqls)).size === 1;
  console.log(
    `\nWhat scales: 2 workers process end to end at ${scaling.toFixed(2)}x the rate of 1 worker ` +
      `(${n(one.endToEndEventsPerSecond)} → ${n(two.endToEndEventsPerSecond)} events/s). The machine was ` +
      `${busy(one)} busy (of ${cpus().length} cores) with 1 worker and ${busy(two)} with 2: the client, the ` +
      'ingest node, the workers, NATS and PostgreSQL share the same cores, so a second worker can only ' +
      'use CPU the others leave idle (this run cannot show what workers on machines of their own do). The ' +
      'ingest path (HTTP, JetStream publish and acknowledgement) is one process and does not scale with ' +
      `workers. PQLs found: embedded ${n(embedded.pqls)}, 1 worker ${n(one.pqls)}, 2 workers ${n(two.pqls)}` +
      (samePqls
        ? ' (the same count).'
        : '; the embedded server also ticks by wall clock, workers only in event time (docs/scale-out.md).'),
  );

  const result = {
    machine: { cpus: cpus().length, node: process.version, loadAverageAtStart: loadavg() },
    data: {
      generator: 'generateDemoEvents',
      seed: DEMO_SEED,
      accounts,
      events: EVENTS,
      order: 'global time order',
      definitions: 'definitions/ (the 3 examples)',
      pacedEvents: pacedCount,
    },
    setup: {
      batchSize: BATCH,
      concurrency: CONCURRENCY,
      partitions: PARTITIONS,
      ingestNodes: 1,
      pacedRatePerSecond: PACED_RATE,
      pacedBatchSize: PACED_BATCH,
      nats: TEST_NATS_URL,
      baseline: 'pql serve (role all), SQLite, no NATS, same events and client',
      latency:
        'detectedAt (worker commit, earliest receipt of the committing batch) - Pql-Received-At, qualified transitions on the NATS live-PQL bus',
    },
    phases: phases.map((p) => ({
      ...p,
      vsEmbedded: {
        ack: Math.round((p.ackEventsPerSecond / base) * 100) / 100,
        endToEnd: Math.round((p.endToEndEventsPerSecond / base) * 100) / 100,
      },
    })),
    twoWorkersVsOne: Math.round(scaling * 100) / 100,
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(join('bench-results', 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log('written to bench-results/scale.json');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
