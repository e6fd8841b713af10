import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Options of a background WAL checkpointer. */
export interface WalCheckpointerOptions {
  /** The database file (in WAL mode) whose log is copied back. */
  readonly path: string;
  /** The writer's synchronous mode: a checkpoint fsyncs as the writer's commits would. */
  readonly synchronous: 'FULL' | 'NORMAL';
  /** How often the thread checkpoints (default 100 ms; a checkpoint with nothing to copy costs microseconds). */
  readonly intervalMs?: number;
  /** The thread failed or exited early: the writer should checkpoint on its own again. */
  readonly onFailure: (reason: string) => void;
}

/**
 * The thread's code, evaluated as CommonJS: its own connection to the file runs `wal_checkpoint(PASSIVE)`
 * on a timer, which copies committed frames into the database without blocking the writer, and once more
 * when stopped.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma('busy_timeout = 1000');
db.pragma('synchronous = ' + workerData.synchronous);
let failures = 0;
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    failures = 0;
  } catch (error) {
    if (++failures >= 3) throw error; // ends the thread: the writer checkpoints on its own again
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  try { checkpoint(); } finally { db.close(); parentPort.close(); }
});
`;

/**
 * Copies the write-ahead log back into the database from a worker thread. SQLite's automatic checkpoint
 * runs inside the commit that crosses its threshold, on the writer's thread: every thousand pages one
 * commit also copied the log and fsynced, and ingest's p99 detection latency (12 ms) was those commits
 * (7 ms with them moved off the thread). The writer turns its own checkpoints off while this runs, and
 * back on if the thread fails.
 */
export class WalCheckpointer {
  private stopped = false;

  private constructor(
    private readonly worker: Worker,
    private readonly exited: Promise<void>,
  ) {}

  /** Starts the thread. */
  static start(options: WalCheckpointerOptions): WalCheckpointer {
    const worker = new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        driver: createRequire(import.meta.url).resolve('better-sqlite3'),
        path: options.path,
        synchronous: options.synchronous,
        intervalMs: options.intervalMs ?? 100,
      },
    });
    worker.unref();
    let checkpointer: WalCheckpointer | undefined = undefined;
    let failed = false;
    const fail = (reason: string): void => {
      if (failed || checkpointer?.stopped === true) return;
      failed = true;
      options.onFailure(reason);
    };
    worker.on('error', (error) => fail(`WAL checkpoint thread failed: ${error.message}`));
    const exited = new Promise<void>((resolve) =>
      worker.on('exit', (code) => {
        fail(`WAL checkpoint thread exited (code ${code})`);
        resolve();
      }),
    );
    checkpointer = new WalCheckpointer(worker, exited);
    return checkpointer;
  }

  /** Runs a last checkpoint, closes the thread's connection and waits for the thread to end. */
  async stop(): Promise<void> {
    if (this.stopped) return this.exited;
    this.stopped = true;
    // Unreferenced so an open store never holds the process; referenced again so its end is awaited.
    this.worker.ref();
    this.worker.postMessage('stop');
    await this.exited;
  }
}
