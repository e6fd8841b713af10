import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEvent } from '../core/events/parse-event.js';
import { PostgresStore } from '../store/postgres/postgres-store.js';
import {
  TEST_POSTGRES_URL,
  TestSchemas,
  postgresUnavailableReason,
} from '../store/postgres/postgres-test-database.js';
import { pqlKeys, singleProcessPqls, timeOrderedDemoMessages } from './cluster-reference.js';
import {
  TEST_NATS_URL,
  natsUnavailableReason,
  postSegmentBatches,
  spawnPql,
  waitForDrained,
  type PqlProcess,
} from './scale-out-cluster.js';

const requireServices = process.env.PQL_REQUIRE_SERVICES === '1';
const unavailable = (await postgresUnavailableReason()) ?? (await natsUnavailableReason());
if (unavailable !== undefined && !requireServices) {
  console.warn(`skipping the scale-out cluster suite: ${unavailable}`);
}

/** The number; PQL_SCALE_EVENTS makes a quicker local run. */
const EVENTS = Number(process.env['PQL_SCALE_EVENTS'] ?? 200_000);
const PARTITIONS = Number(process.env['PQL_SCALE_PARTITIONS'] ?? 8);
const LATENESS_MS = 3_600_000;
const DEFINITIONS = resolve(import.meta.dirname, '../../definitions');
const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');

describe('scale-out services', () => {
  it.runIf(requireServices)('PostgreSQL and NATS JetStream are reachable (PQL_REQUIRE_SERVICES=1)', () => {
    expect(unavailable).toBeUndefined();
  });
});

describe.skipIf(unavailable !== undefined)(
  'scale-out: 1 ingest node and 3 workers over NATS JetStream',
  () => {
    const schemas = new TestSchemas();
    const processes: PqlProcess[] = [];
    const dirs: string[] = [];
    const streams: string[] = [];
    afterAll(async () => {
      await Promise.all(processes.map((p) => p.kill('SIGKILL')));
      await schemas.dropAll();
      // The shared NATS server keeps streams and their consumers: leftovers of a failed run slow the next.
      const connection = await connect({ servers: TEST_NATS_URL });
      const jsm = await jetstreamManager(connection);
      for (const stream of streams) await jsm.streams.delete(stream).catch(() => false);
      await connection.close();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it(`detects the same PQLs as one SQLite process on ${EVENTS} demo events although a worker is killed -9 mid-run, and alerts each once`, async () => {
      const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
      streams.push(`PQLT_${tag}`, `PQLT_${tag}_ACCT`, `KV_PQLT_${tag}_leases`);
      const schema = schemas.next();
      const dataDir = mkdtempSync(join(tmpdir(), 'pql-scale-'));
      dirs.push(dataDir);
      const receiver = await startWebhookReceiver();
      const env = {
        PQL_STORE: `${TEST_POSTGRES_URL}?schema=${schema}`,
        PQL_NATS_URL: TEST_NATS_URL,
        PQL_STREAM: `PQLT_${tag}`,
        PQL_SUBJECT_PREFIX: `pqlt_${tag}`,
        PQL_PARTITIONS: String(PARTITIONS),
        PQL_WRITE_KEYS: 'wk_scale',
        PQL_ADMIN_TOKEN: 'admin_scale',
        PQL_DATA_DIR: dataDir,
        PQL_DEFINITIONS: webhookDefinitions(dataDir),
        PQL_LOG_LEVEL: 'info',
        PQL_LEASE_TTL_MS: '6000',
        PQL_LEASE_RENEW_MS: '1000',
        PQL_WEBHOOK_URL: receiver.url,
        PQL_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
      };
      const ingest = spawnPql(['serve', '--role', 'ingest', '--port', '0', '--host', '127.0.0.1'], env);
      processes.push(ingest);
      const url = /listening on (\S+)/.exec(await ingest.waitFor(/listening on/, 60_000))?.[1] as string;
      const workers = ['w1', 'w2', 'w3']
        .slice(0, Number(process.env['PQL_SCALE_WORKERS'] ?? 3))
        .map((id) => spawnPql(['serve', '--role', 'worker'], { ...env, PQL_WORKER_ID: id }));
      processes.push(...workers);
      await Promise.all(workers.map((w) => w.waitFor(/pql worker/, 60_000)));

      const messages = timeOrderedDemoMessages(EVENTS);
      let killedAt: number | undefined;
      // Watched from the kill on, beside the ingest: measured after it, the rest of the ingest would count.
      let takeover: Promise<number> | undefined;
      const started = Date.now();
      // One request at a time: the arrival order is then the array order the reference replays.
      await postSegmentBatches(url, 'wk_scale', messages, {
        concurrency: 1,
        onProgress: async (acknowledged) => {
          if (killedAt === undefined && workers.length > 1 && acknowledged >= messages.length * 0.4) {
            killedAt = Date.now();
            await (workers[1] as PqlProcess).kill('SIGKILL');
            takeover = waitForLeasesWithout(env.PQL_STREAM, 'w2', killedAt);
            takeover.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
          }
        },
      });
      const takeoverMs = takeover === undefined ? 0 : await takeover;
      await waitForDrained(TEST_NATS_URL, env.PQL_STREAM, PARTITIONS, 150_000).catch((error: unknown) => {
        // The processes' logs say which partition stalled and why.
        mkdirSync(ARTIFACTS, { recursive: true });
        for (const [i, p] of processes.entries()) {
          writeFileSync(join(ARTIFACTS, `scale-out-process-${i}.log`), p.output());
          console.error(`process ${i} (whole log in test-artifacts/):\n${logDigest(p.output())}`);
        }
        throw error;
      });
      const elapsedMs = Date.now() - started;

      const store = await PostgresStore.open({ connectionString: TEST_POSTGRES_URL, schema });
      try {
        const scaled = await store.listPqls();
        const reference = await singleProcessPqls(
          messages.flatMap((m) => {
            const parsed = parseEvent(m);
            return parsed.ok ? [parsed.value] : [];
          }),
          dataDir,
          webhookDefinitions(dataDir),
          LATENESS_MS,
        );
        console.log(
          `scale-out: ${messages.length} events in ${elapsedMs} ms, worker w2 killed at 40%, its partitions all leased again after ${takeoverMs} ms; ${scaled.length} PQLs (single process: ${reference.length})`,
        );
        expect(reference.length).toBeGreaterThan(0);
        expect(pqlKeys(scaled)).toEqual(pqlKeys(reference));
        expect(takeoverMs).toBeLessThan(30_000);

        // Every alert reaches the receiver, under one webhook-id of its own.
        const alerts = await waitForAlertsDelivered(store, 60_000);
        expect(alerts).toBe(scaled.length);
        await expect.poll(() => receiver.ids.size, { timeout: 10_000 }).toBe(alerts);
        expect([...receiver.ids].sort()).toEqual(scaled.map((p) => `${p.id}/webhook`).sort());
      } finally {
        await store.close();
        await receiver.close();
      }
    }, 300_000);
  },
);

/**
 * The example definitions, routed to the signed webhook instead of Slack (the only channel the cluster has
 * here), written once under `dir`; returns the folder.
 */
function webhookDefinitions(dir: string): string {
  const folder = join(dir, 'definitions');
  if (existsSync(folder)) return folder;
  mkdirSync(folder, { recursive: true });
  for (const file of readdirSync(DEFINITIONS).filter((f) => f.endsWith('.yaml'))) {
    const text = readFileSync(join(DEFINITIONS, file), 'utf8');
    const routed = text.replace(/channel: '[^']*'/, "channel: 'webhook'");
    if (routed === text) throw new Error(`${file}: no route channel to point at the webhook`);
    writeFileSync(join(folder, file), routed);
  }
  return folder;
}

/**
 * Milliseconds from `since` until every lease is held and none by `deadWorker`. The leases are read by
 * key, not listed: a listing opens a consumer on the bucket each time.
 */
async function waitForLeasesWithout(stream: string, deadWorker: string, since: number): Promise<number> {
  const connection = await connect({ servers: TEST_NATS_URL });
  const keys = Array.from({ length: PARTITIONS }, (_, p) => [`lease.user.${p}`, `lease.acct.${p}`]).flat();
  try {
    const kv = await new Kvm(connection).open(`${stream}_leases`);
    for (;;) {
      const owners: string[] = [];
      for (const key of keys) {
        const entry = await kv.get(key);
        if (entry !== null && entry.operation === 'PUT') owners.push(entry.string());
      }
      if (owners.length === keys.length && !owners.includes(deadWorker)) return Date.now() - since;
      if (Date.now() - since > 60_000)
        throw new Error(`leases still held by ${deadWorker}: ${owners.join(',')}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await connection.close();
  }
}

/** Waits until no alert is pending; returns how many alerts the outbox holds. */
async function waitForAlertsDelivered(store: PostgresStore, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await store.listAlerts({ status: 'pending', limit: 1_000_000 });
    if (pending.length === 0) return (await store.listAlerts({ limit: 1_000_000 })).length;
    if (Date.now() > deadline) throw new Error(`${pending.length} alerts still pending`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A local webhook receiver that records the `webhook-id` of every delivery and answers 200. */
async function startWebhookReceiver(): Promise<{
  url: string;
  ids: Set<string>;
  deliveries: () => number;
  close: () => Promise<void>;
}> {
  const ids = new Set<string>();
  let deliveries = 0;
  const server = createServer((request: IncomingMessage, response) => {
    request.resume();
    request.on('end', () => {
      const id = request.headers['webhook-id'];
      if (typeof id === 'string') ids.add(id);
      deliveries++;
      response.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    ids,
    deliveries: () => deliveries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * What a process log says about its partitions: every acquisition and release with its time, and each
 * distinct warning or error with how often and when it first and last came.
 */
function logDigest(log: string): string {
  const lines: string[] = [];
  const problems = new Map<string, { count: number; first: number; last: number }>();
  for (const line of log.split('\n')) {
    let entry: {
      level?: number;
      time?: number;
      msg?: string;
      unit?: string;
      reason?: string;
      err?: { message?: string };
      nats?: string;
    };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      if (line.trim() !== '') lines.push(line.slice(0, 200));
      continue;
    }
    const time = new Date(entry.time ?? 0).toISOString().slice(11, 23);
    if ((entry.level ?? 0) >= 40) {
      const key = `${entry.unit ?? ''} ${entry.msg}: ${entry.err?.message ?? entry.nats ?? ''}`.slice(0, 200);
      const seen = problems.get(key) ?? { count: 0, first: entry.time ?? 0, last: 0 };
      seen.count++;
      seen.last = entry.time ?? 0;
      problems.set(key, seen);
    } else if (entry.unit !== undefined)
      lines.push(`${time} ${entry.msg} ${entry.unit} ${entry.reason ?? ''}`);
  }
  for (const [key, { count, first, last }] of problems) {
    const at = (t: number) => new Date(t).toISOString().slice(11, 23);
    lines.push(`${count}x ${key} (${at(first)} to ${at(last)})`);
  }
  return lines.slice(-60).join('\n');
}
