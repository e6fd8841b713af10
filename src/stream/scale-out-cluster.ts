import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { connect } from '@nats-io/transport-node';

/** The NATS server tests use: `PQL_TEST_NATS_URL`, else the local one. */
export const TEST_NATS_URL = process.env['PQL_TEST_NATS_URL'] ?? 'nats://127.0.0.1:4222';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Whether NATS with JetStream answers at `url`: undefined if it does, else why not. */
export async function natsUnavailableReason(url = TEST_NATS_URL): Promise<string | undefined> {
  try {
    const connection = await connect({ servers: url, timeout: 2000, reconnect: false });
    try {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      await (await jetstreamManager(connection)).getAccountInfo();
    } finally {
      await connection.close();
    }
    return undefined;
  } catch (error) {
    return `NATS JetStream at ${url} is not available: ${(error as Error).message}`;
  }
}

/** A `pql` child process, run from the TypeScript sources (tsx) or the build, with its output kept. */
export interface PqlProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves once the process exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `pql <args>` with `env` added to this process's environment: from the sources by default, or with
 * `fromBuild` as `node bin/pql.js` (needs `npm run build`; benchmarks measure the build, not tsx).
 */
export function spawnPql(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  options: { readonly fromBuild?: boolean } = {},
): PqlProcess {
  const entry =
    options.fromBuild === true
      ? ['bin/pql.js']
      : [
          '--import',
          'tsx',
          '--input-type=module',
          '--eval',
          "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(process.argv.slice(1));",
        ];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const waiter of [...waiters]) {
      const line = text.split('\n').find((l) => waiter.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => text,
    waitFor(pattern, timeoutMs = 30_000) {
      const line = text.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) return Promise.resolve(line);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${text.slice(-3000)}`)),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(
            new Error(
              `pql ${args.join(' ')} exited (${child.exitCode}) before ${pattern}:\n${text.slice(-3000)}`,
            ),
          );
        });
      });
    },
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** Posts Segment messages to `/v1/batch` in batches, a few requests in flight, retrying 503s. */
export async function postSegmentBatches(
  baseUrl: string,
  writeKey: string,
  messages: readonly unknown[],
  options: {
    readonly batchSize?: number;
    readonly concurrency?: number;
    /** Called after each acknowledged batch with the number of messages acknowledged so far. */
    readonly onProgress?: (acknowledged: number) => void | Promise<void>;
  } = {},
): Promise<{ readonly retries: number; readonly latenciesMs: readonly number[] }> {
  const size = options.batchSize ?? 500;
  const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  let next = 0;
  let acknowledged = 0;
  let retries = 0;
  const latenciesMs: number[] = [];
  const lane = async (): Promise<void> => {
    while (next < messages.length) {
      const batch = messages.slice(next, next + size);
      next += size;
      for (;;) {
        const started = performance.now();
        const response = await fetch(`${baseUrl}/v1/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization },
          body: JSON.stringify({ batch }),
        }).catch(() => undefined);
        if (response?.ok === true) {
          await response.arrayBuffer();
          latenciesMs.push(performance.now() - started);
          break;
        }
        if (response !== undefined && response.status !== 503) {
          throw new Error(`POST /v1/batch: ${response.status} ${await response.text()}`);
        }
        await response?.arrayBuffer();
        retries++;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      acknowledged += batch.length;
      await options.onProgress?.(acknowledged);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, lane));
  return { retries, latenciesMs };
}

/**
 * Resolves once both streams of a deployment (the user stream `stream` and the account stream) have one
 * durable consumer per partition with nothing pending or unacknowledged, twice in a row `settleMs` apart
 * with neither stream growing between the looks (the identity stage may still republish or mark).
 */
export async function waitForDrained(
  url: string,
  stream: string,
  partitions: number,
  timeoutMs: number,
  settleMs = 1500,
): Promise<void> {
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const connection = await connect({ servers: url });
  const streams = [stream, `${stream}_ACCT`];
  try {
    const jsm = await jetstreamManager(connection);
    const deadline = Date.now() + timeoutMs;
    let quietRounds = 0;
    let lastSeqs = '';
    let lastBusy: string[] = [];
    while (Date.now() < deadline) {
      const seqs: number[] = [];
      let busy = false;
      lastBusy = [];
      for (const name of streams) {
        seqs.push((await jsm.streams.info(name)).state.last_seq);
        let found = 0;
        for await (const info of jsm.consumers.list(name)) {
          // A consumer deleted while the list is read comes back as null.
          if ((info as typeof info | null)?.config.durable_name === undefined) continue;
          found++;
          if (info.num_pending > 0 || info.num_ack_pending > 0) {
            busy = true;
            lastBusy.push(
              `${info.config.durable_name}: ${info.num_pending} pending, ${info.num_ack_pending} unacknowledged`,
            );
          }
        }
        if (found < partitions) {
          busy = true;
          lastBusy.push(`${name}: ${found} of ${partitions} durable consumers exist`);
        }
      }
      const key = seqs.join(',');
      quietRounds = busy || key !== lastSeqs ? 0 : quietRounds + 1;
      lastSeqs = key;
      if (quietRounds >= 2) return;
      await new Promise((resolve) => setTimeout(resolve, settleMs));
    }
    throw new Error(`stream ${stream} not drained within ${timeoutMs} ms: ${lastBusy.join('; ')}`);
  } finally {
    await connection.close();
  }
}
