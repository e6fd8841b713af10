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

/** A `pql` child process run from the TypeScript sources (tsx), with its output kept. */
export interface PqlProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves once the process exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `pql <args>` from the sources with `env` added to this process's environment. */
export function spawnPql(args: readonly string[], env: Readonly<Record<string, string>>): PqlProcess {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '--eval',
      "const m = await import('./src/cli/main.ts'); process.exitCode = await m.main(process.argv.slice(1));",
      ...args,
    ],
    { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
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
          () => reject(new Error(`no line matching ${pattern} within ${timeoutMs} ms:\n${text.slice(-3000)}`)),
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
          reject(new Error(`pql ${args.join(' ')} exited (${child.exitCode}) before ${pattern}:\n${text.slice(-3000)}`));
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
