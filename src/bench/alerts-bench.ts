/**
 * `npm run bench:alerts`: alert latency under load. The real server (SQLite store, group commit) takes a
 * background ingest of 10,000 events/s while accounts are brought to qualify at a steady 5 per second,
 * routed round-robin over 25 reps' DM channels, delivered once through Slack `chat.postMessage`
 * (@slack/web-api pointed at a local receiver, as PQL_SLACK_API_URL does) and once through the signed
 * webhook channel. Latency runs from just before the qualifying event's request is sent (so it includes
 * that request's trip) to the first byte of the alert request at the local receiver. A separate burst of
 * 500 qualifications in one second shows the pacing and digests. A baseline in the same run: the same
 * receiver's latency for a bare HTTP POST from this process. Results go to bench-results/alerts.json.
 *
 * Flags: `--accounts N` (default 1000 per channel), `--burst N` (default 500), `--rate N` (qualifications
 * per second, default 5), `--background N` (events per second, default 10000).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { createAlerting, repOfOwner } from '../alerts/alerting-runtime.js';
import type { AlertingConfig } from '../alerts/alerting-config.js';
import { loadDefinitionsFromPath } from '../config/definition-files.js';
import { createServerConfig } from '../config/server-config.js';
import { createServer } from '../http/create-server.js';
import { Detector } from '../runtime/detector.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';

const { values: flags } = parseArgs({
  options: {
    accounts: { type: 'string', default: '1000' },
    burst: { type: 'string', default: '500' },
    rate: { type: 'string', default: '5' },
    background: { type: 'string', default: '10000' },
  },
});
const ACCOUNTS = Number(flags.accounts);
const BURST = Number(flags.burst);
const RATE = Number(flags.rate);
const BACKGROUND = Number(flags.background);
const REPS = 25;
const WRITE_KEY = 'bench_write_key';
const AUTH = `Basic ${Buffer.from(`${WRITE_KEY}:`).toString('base64')}`;
const WEBHOOK_SECRET = `whsec_${Buffer.from('alerts-bench-secret-32-bytes-ok!').toString('base64')}`;
const DEFINITION = `id: api-active
name: API active
signals:
  calls: { event: API Call Made, count: { gte: 3 } }
qualify: { all: [calls] }
next_step: "Offer a walkthrough: {{calls.value}} API calls"
`;

/** When each alert request started arriving at the local receiver, and what it carried. */
interface Arrival {
  readonly at: number;
  readonly accounts: readonly string[];
}

/** A local receiver standing in for Slack's Web API and for a webhook endpoint. */
async function startReceiver(): Promise<{ url: string; arrivals: Arrival[]; server: Server }> {
  const arrivals: Arrival[] = [];
  const server = createHttpServer((request, response) => {
    // 'request' fires once the head is parsed: the first bytes have arrived.
    const at = performance.now();
    const chunks: Buffer[] = [];
    request.on('data', (c: Buffer) => chunks.push(c));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      // Slack bodies are form-encoded; account ids survive as-is in both encodings.
      arrivals.push({ at, accounts: [...new Set(body.match(/bq[a-z]_\d{5}/g) ?? [])] });
      if (request.url?.includes('chat.postMessage') === true) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ ok: true, channel: 'D1', ts: '1.1' }));
      } else response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, server };
}

function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const round = (n: number | null): number | null => (n === null ? null : Math.round(n * 10) / 10);

function stats(values: number[]): { p50: number | null; p99: number | null; max: number | null } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: round(percentile(sorted, 50)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted.at(-1) ?? null),
  };
}

/** POSTs one body over a keep-alive agent; resolves with the status. */
function post(agent: Agent, url: string, path: string, body: string): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const request = httpRequest(
      {
        agent,
        hostname,
        port,
        method: 'POST',
        path,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: AUTH,
        },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    request.on('error', () => resolve(0));
    request.end(body);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function track(messageId: string, accountId: string, event: string): Record<string, unknown> {
  return {
    type: 'track',
    messageId,
    userId: `${accountId}_u`,
    event,
    timestamp: new Date().toISOString(),
    context: { groupId: accountId },
  };
}

/** Background ingest: one batch of 100 events every 100/rate seconds until stopped, never qualifying. */
function backgroundIngest(agent: Agent, url: string, perSecond: number, tag: string) {
  let stopped = false;
  let sent = 0;
  let failed = 0;
  const intervalMs = (100 / perSecond) * 1000;
  const started = performance.now();
  const sends: Promise<void>[] = [];
  const run = (async () => {
    for (let b = 0; !stopped; b++) {
      const wait = started + b * intervalMs - performance.now();
      if (wait > 1) await sleep(wait);
      const batch = Array.from({ length: 100 }, (_, k) =>
        track(`${tag}-bg-${b}-${k}`, `bg_${tag}_${(b * 100 + k) % 5000}`, 'Page Viewed'),
      );
      sends.push(
        post(agent, url, '/v1/batch', JSON.stringify({ batch })).then((status) => {
          if (status === 200) sent += 100;
          else failed += 100;
        }),
      );
    }
  })();
  return {
    async stop() {
      stopped = true;
      await run;
      await Promise.all(sends);
      const seconds = (performance.now() - started) / 1000;
      return { eventsSent: sent, failedEvents: failed, eventsPerSecond: Math.round(sent / seconds) };
    },
  };
}

/** A server wired as `pql serve` wires it: alerting planned at commit, the worker woken by the bus. */
async function startPql(channels: AlertingConfig) {
  const dir = mkdtempSync(join(tmpdir(), 'pql-alerts-bench-'));
  writeFileSync(join(dir, 'api-active.yaml'), DEFINITION);
  const loaded = await loadDefinitionsFromPath(join(dir, 'api-active.yaml'));
  if (!loaded.ok) throw new Error('the bench definition does not load');
  const reps = Array.from({ length: REPS }, (_, i) =>
    repOfOwner({ ownerId: `rep_${i}`, name: `Rep ${i}`, slackUserId: `U${String(i).padStart(4, '0')}` }),
  );
  const alerting = createAlerting({ ...channels, dashboardUrl: 'http://localhost:7070' }, reps);
  if (alerting === undefined) throw new Error('no channel');
  const store = SqliteStore.open(join(dir, 'pql.sqlite'));
  const detector = await Detector.open(store, loaded.definitions, { alerting: alerting.detectorOption });
  const config = createServerConfig({
    dataDir: dir,
    writeKeys: [WRITE_KEY],
    adminToken: 'bench_admin',
    maxQueuedEvents: 1_000_000,
  });
  const server = createServer({ detector, config, logger: pino({ level: 'warn' }) });
  const worker = alerting.createWorker(store);
  server.bus.subscribe((published) => {
    if (published.some((p) => p.transition.kind === 'qualified')) worker.wake();
  });
  const url = await server.listen(0, '127.0.0.1');
  worker.start();
  return {
    url,
    store,
    async stop() {
      await server.close();
      await worker.stop();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Primes accounts with two API calls each (the third one qualifies), in batches. */
async function prime(agent: Agent, url: string, accounts: readonly string[], tag: string): Promise<void> {
  for (let i = 0; i < accounts.length; i += 50) {
    const batch = accounts
      .slice(i, i + 50)
      .flatMap((a) => [
        track(`${tag}-p1-${a}`, a, 'API Call Made'),
        track(`${tag}-p2-${a}`, a, 'API Call Made'),
      ]);
    const status = await post(agent, url, '/v1/batch', JSON.stringify({ batch }));
    if (status !== 200) throw new Error(`priming failed: HTTP ${status}`);
  }
}

async function waitFor(arrivals: Arrival[], accounts: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const wanted = new Set(accounts);
  while (performance.now() < deadline) {
    for (const a of arrivals) for (const id of a.accounts) wanted.delete(id);
    if (wanted.size === 0) return;
    await sleep(50);
  }
}

/** Steady qualifications at RATE per second under background ingest, through one channel. */
async function steady(channel: 'slack-api' | 'webhook', prefix: string): Promise<Record<string, unknown>> {
  const receiver = await startReceiver();
  const pql = await startPql(
    channel === 'slack-api'
      ? { slackBotToken: 'xoxb-bench', slackApiUrl: `${receiver.url}/api/` }
      : { webhookUrl: `${receiver.url}/hook`, webhookSecret: WEBHOOK_SECRET },
  );
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  try {
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `${prefix}_${String(i).padStart(5, '0')}`);
    await prime(agent, pql.url, accounts, prefix);
    const background = backgroundIngest(agent, pql.url, BACKGROUND, prefix);
    await sleep(1000); // let the background rate settle before measuring
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    const sentAt = new Map<string, number>();
    const answers: Promise<number>[] = [];
    const started = performance.now();
    for (let i = 0; i < accounts.length; i++) {
      const wait = started + (i * 1000) / RATE - performance.now();
      if (wait > 1) await sleep(wait);
      const account = accounts[i] as string;
      const body = JSON.stringify(track(`${prefix}-q-${account}`, account, 'API Call Made'));
      sentAt.set(account, performance.now());
      answers.push(post(agent, pql.url, '/v1/track', body));
    }
    const statuses = await Promise.all(answers);
    await waitFor(receiver.arrivals, accounts, 10_000);
    loopDelay.disable();
    const load = await background.stop();
    const firstArrival = new Map<string, number>();
    let digests = 0;
    for (const arrival of receiver.arrivals) {
      if (arrival.accounts.length > 1) digests++;
      for (const id of arrival.accounts) if (!firstArrival.has(id)) firstArrival.set(id, arrival.at);
    }
    const latencies: number[] = [];
    for (const [account, sent] of sentAt) {
      const at = firstArrival.get(account);
      if (at !== undefined) latencies.push(at - sent);
    }
    const outbox = await pql.store.listAlerts({ limit: ACCOUNTS * 2 });
    // The split: request sent -> PQL and alert committed (the outbox row's createdAt, wall clock), and
    // committed -> first byte at the receiver.
    const toCommit: number[] = [];
    const toReceiver: number[] = [];
    for (const alert of outbox) {
      const account = (alert.payload as { accountId: string }).accountId;
      const sent = sentAt.get(account);
      const at = firstArrival.get(account);
      if (sent === undefined || at === undefined) continue;
      const committed = alert.createdAt - performance.timeOrigin;
      toCommit.push(committed - sent);
      toReceiver.push(at - committed);
    }
    return {
      channel,
      accounts: ACCOUNTS,
      qualificationsPerSecond: RATE,
      background: load,
      qualifyingRequestsNot200: statuses.filter((s) => s !== 200).length,
      alertsReceived: latencies.length,
      missing: ACCOUNTS - latencies.length,
      receiverRequests: receiver.arrivals.length,
      digestMessages: digests,
      delivered: outbox.filter((a) => a.status === 'delivered').length,
      latencyMs: stats(latencies),
      sentToCommittedMs: stats(toCommit),
      committedToReceiverMs: stats(toReceiver),
      eventLoopDelayMs: {
        p99: round(loopDelay.percentile(99) / 1e6),
        max: round(loopDelay.max / 1e6),
      },
    };
  } finally {
    agent.destroy();
    await pql.stop();
    receiver.server.closeAllConnections();
    await new Promise((resolve) => receiver.server.close(resolve));
  }
}

/** BURST qualifications within one second through Slack: how pacing and digests handle them. */
async function burst(): Promise<Record<string, unknown>> {
  const receiver = await startReceiver();
  const pql = await startPql({ slackBotToken: 'xoxb-bench', slackApiUrl: `${receiver.url}/api/` });
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  try {
    const accounts = Array.from({ length: BURST }, (_, i) => `bqb_${String(i).padStart(5, '0')}`);
    await prime(agent, pql.url, accounts, 'bqb');
    const started = performance.now();
    // Ten requests of BURST/10 qualifying events, 100 ms apart: all within one second.
    const sends: Promise<number>[] = [];
    for (let r = 0; r < 10; r++) {
      const wait = started + r * 100 - performance.now();
      if (wait > 1) await sleep(wait);
      const slice = accounts.slice((r * BURST) / 10, ((r + 1) * BURST) / 10);
      const batch = slice.map((a) => track(`bqb-q-${a}`, a, 'API Call Made'));
      sends.push(post(agent, pql.url, '/v1/batch', JSON.stringify({ batch })));
    }
    await Promise.all(sends);
    const sentDone = performance.now() - started;
    await waitFor(receiver.arrivals, accounts, 60_000);
    const arrivals = receiver.arrivals.map((a) => ({ at: a.at - started, accounts: a.accounts }));
    const covered = new Set(arrivals.flatMap((a) => a.accounts));
    const digests = arrivals.filter((a) => a.accounts.length > 1);
    // Messages per rep (DM target) per one-second window: pacing allows a burst of 3, then 1 per second.
    const perRepWindow = new Map<string, number>();
    const outbox = await pql.store.listAlerts({ limit: BURST * 2 });
    const repOf = new Map(
      outbox.map((a) => [(a.payload as { accountId: string }).accountId, a.target] as const),
    );
    for (const a of arrivals) {
      const rep = repOf.get(a.accounts[0] ?? '') ?? '?';
      const key = `${rep}@${Math.floor(a.at / 1000)}`;
      perRepWindow.set(key, (perRepWindow.get(key) ?? 0) + 1);
    }
    return {
      qualifications: BURST,
      sentWithinMs: Math.round(sentDone),
      reps: REPS,
      slackMessages: arrivals.length,
      digestMessages: digests.length,
      alertsInDigests: digests.reduce((n, a) => n + a.accounts.length, 0),
      singleMessages: arrivals.length - digests.length,
      accountsCovered: covered.size,
      lastMessageAtMs: Math.round(arrivals.at(-1)?.at ?? 0),
      maxMessagesPerRepPerSecond: Math.max(0, ...perRepWindow.values()),
      delivered: outbox.filter((a) => a.status === 'delivered').length,
      firstSecondMessages: arrivals.filter((a) => a.at < 1000).length,
    };
  } finally {
    agent.destroy();
    await pql.stop();
    receiver.server.closeAllConnections();
    await new Promise((resolve) => receiver.server.close(resolve));
  }
}

/** Baseline: the receiver's first-byte latency for a plain POST from this process, 200 times. */
async function baseline(): Promise<Record<string, unknown>> {
  const receiver = await startReceiver();
  const agent = new Agent({ keepAlive: true });
  const latencies: number[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const sent = performance.now();
      await post(
        agent,
        receiver.url,
        '/hook',
        JSON.stringify({ account: `bqz_${String(i).padStart(5, '0')}` }),
      );
      const arrival = receiver.arrivals.at(-1);
      if (arrival !== undefined) latencies.push(arrival.at - sent);
    }
    return { requests: latencies.length, latencyMs: stats(latencies) };
  } finally {
    agent.destroy();
    receiver.server.closeAllConnections();
    await new Promise((resolve) => receiver.server.close(resolve));
  }
}

async function main(): Promise<void> {
  console.log(
    `${ACCOUNTS} accounts per channel at ${RATE}/s over ${REPS} reps, background ${BACKGROUND} events/s; burst of ${BURST}`,
  );
  const direct = await baseline();
  console.log('baseline, a bare POST to the receiver:', JSON.stringify(direct));
  const slack = await steady('slack-api', 'bqs');
  console.log('chat.postMessage:', JSON.stringify(slack));
  const webhook = await steady('webhook', 'bqw');
  console.log('signed webhook:', JSON.stringify(webhook));
  const burstResult = await burst();
  console.log('burst:', JSON.stringify(burstResult));
  const report = {
    machine: { cpus: cpus().length, node: process.version },
    flags: { accounts: ACCOUNTS, rate: RATE, background: BACKGROUND, burst: BURST, reps: REPS },
    baseline: direct,
    slackApi: slack,
    webhook,
    burst: burstResult,
    targets: { p99Ms: 100 },
  };
  mkdirSync('bench-results', { recursive: true });
  writeFileSync(join('bench-results', 'alerts.json'), `${JSON.stringify(report, null, 2)}\n`);
  console.log('written to bench-results/alerts.json');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
