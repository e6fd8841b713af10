import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { ProductEvent } from '../core/events/event.js';
import { parseEvent } from '../core/events/parse-event.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import {
  TEST_POSTGRES_URL,
  TestSchemas,
  postgresUnavailableReason,
} from '../store/postgres/postgres-test-database.js';
import { IdentityStage } from './identity-stage.js';
import { partitionOf, userKeyOf } from './partitioning.js';
import { pqlKeys, singleProcessPqls, timeOrderedDemoMessages } from './cluster-reference.js';
import { postSegmentBatches, spawnPql, waitForDrained, type PqlProcess } from './scale-out-cluster.js';

const NATS_SERVER = process.env['PQL_NATS_SERVER'] ?? 'nats-server';
const requireServices = process.env.PQL_REQUIRE_SERVICES === '1';
const unavailable = (await postgresUnavailableReason()) ?? natsServerUnavailableReason();
if (unavailable !== undefined && !requireServices) {
  console.warn(`skipping the NATS restart suite: ${unavailable}`);
}

/** PQL_RESTART_EVENTS makes a quicker or a longer local run. */
const EVENTS = Number(process.env['PQL_RESTART_EVENTS'] ?? 20_000);
const PARTITIONS = 4;
const LATENESS_MS = 3_600_000;
/** How long the server stays down, so that requests arrive while nothing answers. */
const DOWNTIME_MS = 1_000;
const DEFINITIONS = resolve(import.meta.dirname, '../../definitions');
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');

describe('NATS restart services', () => {
  it.runIf(requireServices)(
    'PostgreSQL and a nats-server binary are available (PQL_REQUIRE_SERVICES=1)',
    () => {
      expect(unavailable).toBeUndefined();
    },
  );
});

describe.skipIf(unavailable !== undefined)('scale-out through a restart of its own NATS server', () => {
  const schemas = new TestSchemas();
  const processes: PqlProcess[] = [];
  const servers: NatsServer[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill('SIGKILL')));
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
    await schemas.dropAll();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it(`loses no acknowledged event of ${EVENTS} when the NATS server is killed -9 at 40% and started again on its store`, async () => {
    const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
    const schema = schemas.next();
    const dataDir = mkdtempSync(join(tmpdir(), 'pql-nats-restart-'));
    dirs.push(dataDir);
    const nats = await startNatsServer(join(dataDir, 'jetstream'), await freePort());
    servers.push(nats);
    const stream = `PQLR_${tag}`;
    const env = {
      PQL_STORE: `${TEST_POSTGRES_URL}?schema=${schema}`,
      PQL_NATS_URL: nats.url,
      PQL_STREAM: stream,
      PQL_SUBJECT_PREFIX: `pqlr_${tag}`,
      PQL_PARTITIONS: String(PARTITIONS),
      PQL_WRITE_KEYS: 'wk_restart',
      PQL_ADMIN_TOKEN: 'admin_restart',
      PQL_DATA_DIR: dataDir,
      PQL_DEFINITIONS: DEFINITIONS,
      PQL_LOG_LEVEL: 'info',
      PQL_LEASE_TTL_MS: '6000',
      PQL_LEASE_RENEW_MS: '1000',
    };
    const ingest = spawnPql(['serve', '--role', 'ingest', '--port', '0', '--host', '127.0.0.1'], env);
    processes.push(ingest);
    const url = /listening on (\S+)/.exec(await ingest.waitFor(/listening on/, 60_000))?.[1] as string;
    const worker = spawnPql(['serve', '--role', 'worker'], { ...env, PQL_WORKER_ID: 'w1' });
    processes.push(worker);
    await worker.waitFor(/pql worker/, 60_000);

    const messages = timeOrderedDemoMessages(EVENTS);
    let acknowledged = 0;
    let restart: Promise<number> | undefined;
    const started = Date.now();
    // One request at a time: a 200 covers exactly the messages before it, so `acknowledged` is a prefix.
    const { retries } = await postSegmentBatches(url, 'wk_restart', messages, {
      concurrency: 1,
      onProgress: (count) => {
        acknowledged = count;
        // Not awaited: requests keep coming while the server is down and must be answered 503 (or fail).
        if (restart === undefined && count >= messages.length * 0.4) {
          restart = nats.restart(DOWNTIME_MS);
          // Awaited below; this only keeps a failed restart from counting as an unhandled rejection meanwhile.
          restart.catch(() => {});
        }
      },
    });
    const restartMs = await (restart ?? Promise.reject(new Error('the NATS server was never restarted')));
    const postedMs = Date.now() - started;

    // Durability first (the stream is complete once the last batch is answered): every event answered 200
    // is on the user stream, once, and nothing else is.
    const acknowledgedIds = messages
      .slice(0, acknowledged)
      .map((m) => parseEvent(m))
      .flatMap((parsed) => (parsed.ok ? [parsed.value.messageId] : []));
    const arrived = await readUserStream(nats.url, stream);
    const arrivedIds = arrived.map((e) => e.messageId);
    expect(acknowledged).toBe(messages.length);
    expect(difference(acknowledgedIds, arrivedIds)).toEqual([]);
    expect(difference(arrivedIds, acknowledgedIds)).toEqual([]);
    expect(arrivedIds.length).toBe(acknowledgedIds.length);

    await waitForDrained(nats.url, stream, PARTITIONS, 60_000).catch((error: unknown) => {
      saveLogs([ingest, worker], nats);
      throw new Error(
        `all ${arrivedIds.length} acknowledged events survived the restart on the stream, but the worker did not process them: ${(error as Error).message}`,
      );
    });
    const drainedMs = Date.now() - started;

    const store = await PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema });
    try {
      const storedIds: string[] = [];
      for await (const batch of store.readEvents({ order: 'arrival' })) {
        for (const event of batch) storedIds.push(event.messageId);
      }
      // Workers store what the identity stage attributes to an account; the same stage over the same
      // arrival order says which events that is.
      const attributedIds = attributedMessageIds(arrived);
      const clustered = await store.listPqls();
      // The reference gets the events in the order the cluster received them (a batch retried across the
      // restart may land in another order than the array's).
      const reference = await singleProcessPqls(arrived, dataDir, DEFINITIONS, LATENESS_MS);
      const inPostingOrder = arrivedIds.every((id, i) => id === acknowledgedIds[i]);
      console.log(
        `nats-restart: ${acknowledged} events acknowledged in ${postedMs} ms, drained at ${drainedMs} ms; nats-server killed -9 at 40% and ready again ${restartMs} ms later (fsync before ack: ${nats.syncAlways ? 'yes' : 'not supported by this nats-server, its default'}); ${retries} retried requests; all on the stream (${inPostingOrder ? 'in' : 'not in'} posting order); ${storedIds.length} stored of ${attributedIds.length} attributed; ${clustered.length} PQLs (single process: ${reference.length})`,
      );
      // Every event the workers should store is stored, once, and nothing else is.
      expect(difference(attributedIds, storedIds)).toEqual([]);
      expect(difference(storedIds, attributedIds)).toEqual([]);
      expect(storedIds.length).toBe(attributedIds.length);
      expect(reference.length).toBeGreaterThan(0);
      expect(pqlKeys(clustered)).toEqual(pqlKeys(reference));
    } finally {
      await store.close();
    }
  }, 150_000);
});

/** A nats-server child process with JetStream on a fixed port and store directory, restartable on both. */
interface NatsServer {
  readonly url: string;
  /** Whether the server fsyncs before it acknowledges (`sync_interval: always`, nats-server 2.10 and later). */
  readonly syncAlways: boolean;
  /** Kills the server with SIGKILL, waits `downtimeMs`, starts it again; resolves with the ms until ready. */
  restart(downtimeMs: number): Promise<number>;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Why no nats-server can be started here, or undefined when one can. */
function natsServerUnavailableReason(): string | undefined {
  const run = spawnSync(NATS_SERVER, ['--version'], { encoding: 'utf8' });
  if (run.error !== undefined) return `${NATS_SERVER} cannot be run: ${run.error.message}`;
  return run.status === 0 ? undefined : `${NATS_SERVER} --version exited ${run.status}: ${run.stderr}`;
}

/** A port nothing listens on now (the kernel's pick for port 0). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * Starts nats-server on 127.0.0.1:`port` with JetStream storing in `storeDir`, syncing to disk before
 * each acknowledgement where the server knows `sync_interval: always` (2.10+); older servers reject the
 * field, and then run with their default (the OS writes back on its own, which a killed process does not
 * lose but a crashed machine may).
 */
async function startNatsServer(storeDir: string, port: number): Promise<NatsServer> {
  mkdirSync(storeDir, { recursive: true });
  const config = (sync: boolean): string => {
    const file = join(storeDir, '..', sync ? 'nats-sync.conf' : 'nats.conf');
    const syncLine = sync ? '\n  sync_interval: "always"' : '';
    writeFileSync(
      file,
      `listen: "127.0.0.1:${port}"\njetstream {\n  store_dir: ${JSON.stringify(storeDir)}${syncLine}\n}\n`,
    );
    return file;
  };
  const syncAlways = spawnSync(NATS_SERVER, ['-t', '-c', config(true)]).status === 0;
  const file = config(syncAlways);
  let text = '';
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const started = spawn(NATS_SERVER, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    started.stdout.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const ready = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server not ready in 20 s:\n${text}`)), 20_000);
      started.stderr.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        if (/Server is ready/.test(text.slice(text.lastIndexOf('Starting nats-server')))) {
          clearTimeout(timer);
          resolveReady();
        }
      });
      started.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited (${code}) before it was ready:\n${text}`));
      });
    });
    await ready;
  };
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((r) => running.once('exit', () => r()));
    running.kill(signal);
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    syncAlways,
    async restart(downtimeMs) {
      await stop('SIGKILL');
      const killed = Date.now();
      await new Promise((r) => setTimeout(r, downtimeMs));
      await start();
      return Date.now() - killed;
    },
    output: () => text,
    stop,
  };
}

/** Every event on the user stream, in stream order, read with an ordered consumer. */
async function readUserStream(url: string, stream: string): Promise<ProductEvent[]> {
  const connection = await connect({ servers: url });
  try {
    const { state } = await (await jetstreamManager(connection)).streams.info(stream);
    const events: ProductEvent[] = [];
    if (state.messages === 0) return events;
    const consumer = await jetstream(connection).consumers.get(stream);
    const decoder = new TextDecoder();
    for await (const message of await consumer.consume()) {
      const parsed = parseEvent(JSON.parse(decoder.decode(message.data)));
      if (!parsed.ok) throw new Error(`stream ${stream} seq ${message.seq}: not an event`);
      events.push(parsed.value);
      if (message.seq >= state.last_seq) break;
    }
    return events;
  } finally {
    await connection.close();
  }
}

/** The messageIds the identity stages of the partitions publish to the account partitions, given `arrived`. */
function attributedMessageIds(arrived: readonly ProductEvent[]): string[] {
  const stages = Array.from({ length: PARTITIONS }, () => new IdentityStage());
  const ids: string[] = [];
  for (const event of arrived) {
    const stage = stages[partitionOf(userKeyOf(event), PARTITIONS)] as IdentityStage;
    for (const out of stage.resolve(event, '', 0)) ids.push(out.event.messageId);
  }
  return [...new Set(ids)];
}

/** Members of `expected` missing from `actual`. */
function difference(expected: readonly string[], actual: readonly string[]): string[] {
  const present = new Set(actual);
  return expected.filter((id) => !present.has(id));
}

/** Writes every process's log to test-artifacts/ and the tail of each to stderr. */
function saveLogs(processes: readonly PqlProcess[], nats: NatsServer): void {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'nats-restart-nats-server.log'), nats.output());
  for (const [i, p] of processes.entries()) {
    writeFileSync(join(ARTIFACTS, `nats-restart-process-${i}.log`), p.output());
    console.error(`process ${i} (whole log in test-artifacts/):\n${p.output().slice(-1500)}`);
  }
}
